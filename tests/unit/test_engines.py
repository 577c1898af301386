"""The engine declarations (`snoopipe.engines`): what the settings accept, what the
stages run, and the message for a missing extra."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from snoopipe.engines import (
    TRANSFORM_ENGINES,
    VALIDATION_ENGINES,
    Engine,
    names_text,
    transform_engine,
    validation_engine,
)
from snoopipe.errors import ConfigError
from snoopipe.settings import Settings


def test_settings_accept_exactly_the_declared_engines():
    for name in TRANSFORM_ENGINES:
        assert Settings(transform_engine=name).transform_engine == name
    for name in VALIDATION_ENGINES:
        assert Settings(validation_engine=name).validation_engine == name
    with pytest.raises(ValidationError, match="'duckdb', 'spark' or 'glue'"):
        Settings(transform_engine="flink")
    with pytest.raises(ValidationError, match="'duckdb' or 'athena'"):
        Settings(validation_engine="bigquery")


def test_unknown_engine_names_the_choices():
    assert names_text(TRANSFORM_ENGINES) == "duckdb, spark or glue"
    with pytest.raises(ConfigError, match="unknown transform engine 'flink': use duckdb, "
                                          "spark or glue"):
        transform_engine("flink")
    with pytest.raises(ConfigError, match="use duckdb or athena"):
        validation_engine("bigquery")


def test_every_declared_runner_exists():
    for engine in [*TRANSFORM_ENGINES.values(), *VALIDATION_ENGINES.values()]:
        assert callable(engine.runner()), engine.name


def test_a_missing_extra_says_what_to_install():
    engine = Engine("transform", "flink", "a stream processor", "snoopipe.engines:names_text",
                    needs=("snoopipe_no_such_module",), needs_text="PyFlink",
                    install_hint="pip install 'snoopipe[flink]'")
    with pytest.raises(ConfigError, match=r"transform engine 'flink' needs PyFlink: pip "
                                          r"install 'snoopipe\[flink\]' \(No module named"):
        engine.runner()
