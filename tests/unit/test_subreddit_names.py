"""Subreddit names: every name Reddit had, matched in full, one identity per name
whatever its case; safe in lake keys, SQL and Glue."""

from __future__ import annotations

import re

import pytest

from snoopipe.lake import layout
from snoopipe.lake.raw import raw_key
from snoopipe.settings import Settings, validate_subreddit
from snoopipe.transform import rules


@pytest.mark.parametrize("name", [
    "python", "Python", "AskReddit", "de", "NC", "reddit.com", "Reddit.com",
    "u_sample-writer", "u_abcdefghijklmnopqrst", "u_plain_name", "u_a-b", "a" * 21,
    "2007scape",
])
def test_real_names_are_accepted(name):
    assert validate_subreddit(name) == name.lower()
    assert re.fullmatch(rules.SUBREDDIT_PATTERN[1:-1], name)


@pytest.mark.parametrize("name", [
    "a", "a" * 22, "_python", "-python", "py-thon", "py.thon", "reddit.com.evil",
    "xreddit.com", "u_-b", "u_" + "a" * 21, "u_a/b", "../etc", "python\n", "python\nx",
    "<TEST_SUBREDDIT>", "with space", "x;drop", "u_a.b", ".", "..", "u_-..",
])
def test_other_names_are_refused(name):
    if name == "python\n":  # surrounding whitespace is trimmed, never kept
        assert validate_subreddit(name) == "python"
        return
    with pytest.raises(ValueError, match="invalid subreddit"):
        validate_subreddit(name)


def test_spark_pattern_has_no_trailing_newline_bypass():
    assert rules.java_pattern(rules.SUBREDDIT_PATTERN).endswith("\\z")


def test_one_identity_whatever_the_case():
    settings = Settings(subreddits=["Python", "python", "r/PYTHON", "rust"])
    assert settings.subreddits == ["python", "rust"]
    assert raw_key("posts", "Python", "2024-01-01", "run1", "api-a1") == raw_key(
        "posts", "python", "2024-01-01", "run1", "api-a1")


@pytest.mark.parametrize("name", ["reddit.com", "u_sample-writer"])
def test_names_with_dot_and_dash_are_safe_raw_partitions(name):
    # processed files are partitioned by month only; the raw zone keeps a folder per name
    key = raw_key("posts", name, "2006-01-01", "run1", "api-a1")
    assert key == f"raw/posts/subreddit={name}/dt=2006-01-01/run1-api-a1.jsonl.zst"
    assert layout.parse_partition(layout.partition_name("2006-01")) == "2006-01"
    with pytest.raises(ValueError):
        layout.parse_partition("subreddit=../dt=2006-01-01")
