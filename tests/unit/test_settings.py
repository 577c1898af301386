"""Settings come from snoopipe.toml, then the environment; backends are URLs."""

from __future__ import annotations

import pytest

from snoopipe.settings import load_settings, validate_subreddit


def test_file_then_environment(tmp_path, monkeypatch):
    (tmp_path / "snoopipe.toml").write_text(
        'subreddits = ["python"]\ndata_dir = "data"\n[extract]\noverlap_minutes = 5\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SNOOPIPE_EXTRACT__OVERLAP_MINUTES", "9")
    monkeypatch.setenv("SNOOPIPE_WAREHOUSE_URL", "duckdb:///elsewhere.duckdb")
    settings = load_settings()
    assert settings.subreddits == ["python"]
    assert settings.extract.overlap_minutes == 9
    assert settings.resolved_lake_url == f"file://{tmp_path / 'data' / 'lake'}"
    assert settings.resolved_warehouse_url == "duckdb:///elsewhere.duckdb"


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")


@pytest.mark.parametrize("bad", ["../etc", "a", "x;drop table posts", "with space",
                                 "<TEST_SUBREDDIT>"])
def test_subreddit_names_are_validated(bad):
    with pytest.raises(ValueError, match="invalid subreddit"):
        validate_subreddit(bad)


def test_subreddit_prefix_is_stripped():
    assert validate_subreddit("r/Python") == "python"  # canonical: Reddit ignores case
