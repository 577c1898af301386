"""The `snoopipe init` template: every example in it is a real setting, and every setting
has an example, so the template cannot drift from the Settings model."""

from __future__ import annotations

import os
import re
import tomllib
from importlib.resources import files
from typing import Any

from pydantic import BaseModel
from typer.testing import CliRunner

from snoopipe.cli import app
from snoopipe.settings import Settings, load_settings

# An example line: `# key = value ...` or `# [section]` (prose comments never look like that).
EXAMPLE = re.compile(r"^# ?(\[[A-Za-z_.]+\]|[A-Za-z_][A-Za-z0-9_]* = .*)$")
# Not in the file on purpose: secrets belong in the environment; base_dir is set by the loader.
NOT_IN_TEMPLATE = {"base_dir", "reddit.client_secret", "reddit.password"}


def _template() -> str:
    return files("snoopipe").joinpath("templates/snoopipe.toml").read_text()


def _uncommented(text: str) -> str:
    return "\n".join(EXAMPLE.sub(r"\1", line) for line in text.splitlines()) + "\n"


def _named(data: dict[str, Any], model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every setting named in the parsed template, checked against the model as it goes."""
    names = set()
    for key, value in data.items():
        assert key in model.model_fields, f"{prefix}{key} is not a setting of {model.__name__}"
        names.add(prefix + key)
        annotation = model.model_fields[key].annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            assert isinstance(value, dict), f"{prefix}{key} must be a [section]"
            names |= _named(value, annotation, f"{prefix}{key}.")
    return names


def _all_fields(model: type[BaseModel], prefix: str = "") -> set[str]:
    names = set()
    for key, field in model.model_fields.items():
        names.add(prefix + key)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            names |= _all_fields(field.annotation, f"{prefix}{key}.")
    return names


def test_template_examples_are_real_settings_and_cover_them_all(tmp_path):
    text = _uncommented(_template())
    assert "# [spark]" not in text and "[spark]" in text and "[glue]" in text
    named = _named(tomllib.loads(text), Settings)
    missing = _all_fields(Settings) - named - NOT_IN_TEMPLATE
    assert not missing, f"settings without an example in the template: {sorted(missing)}"
    for secret in ("SNOOPIPE_REDDIT__CLIENT_SECRET", "SNOOPIPE_REDDIT__PASSWORD"):
        assert secret in _template()
    # With every example switched on, the values also pass the model's validation.
    (tmp_path / "snoopipe.toml").write_text(text)
    settings = load_settings(tmp_path / "snoopipe.toml")
    assert settings.spark.conf == {"spark.local.dir": "/mnt/scratch"}
    assert settings.glue.default_arguments == {"--enable-metrics": "true"}
    assert settings.redshift.iam_role and settings.athena.output_location


def test_init_writes_a_template_that_loads_as_is(tmp_path, monkeypatch):
    for name in [k for k in os.environ if k.startswith("SNOOPIPE_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    settings = load_settings()
    assert settings.spark.master == "local[*]" and settings.glue.job_name == "snoopipe-transform"
    assert settings.subreddits == ["python", "dataengineering", "datascience"]
