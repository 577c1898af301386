"""The engines a stage can run on, each declared once.

An `Engine` is a name, a line saying what it is, the function that runs the stage on it,
and the optional packages it needs with the install command shown when they are missing.
The settings (`transform_engine`, `validation_engine` accept exactly these names), the
CLI (`snoopipe transform --engine`: its help and its check) and the stages
(`snoopipe.transform.stage.run_transform`, `snoopipe.quality.validate.run_validation`)
all read these declarations, so a new engine is added here and nowhere else.

This module imports nothing heavy: the settings import it, and an engine's own module
(PySpark, boto3) is imported only when that engine runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from snoopipe.errors import ConfigError


@dataclass(frozen=True)
class Engine:
    """One engine of a stage.

    stage: "transform" or "validation".
    runner_path: "module:function" the stage calls (imported when used): a transform
    engine's runs the transform, `(resources, run_id, **options) -> StageResult`; a
    validation engine's opens it over the check relations, `(resources, CheckContext)`
    -> a context manager giving a `snoopipe.quality.evaluate.CheckClient`.
    summary: what the engine is, for help texts ("this process").
    needs: modules of an optional extra the runner imports; missing ones make `runner()`
    raise a ConfigError that says `needs_text` and `install_hint`.
    options: keywords of `run_transform` its runner takes (`sizing`, `threads`, ...); the
    Glue job sizes its files by its own settings.
    """

    stage: str
    name: str
    summary: str
    runner_path: str
    needs: tuple[str, ...] = ()
    needs_text: str = ""
    install_hint: str = ""
    options: tuple[str, ...] = ()

    def runner(self) -> Callable[..., Any]:
        """The function that runs the stage on this engine; ConfigError if a package of
        its extra is missing (the message names the package and how to install it)."""
        module, _, function = self.runner_path.partition(":")
        try:
            for name in self.needs:
                importlib.import_module(name)
            return getattr(importlib.import_module(module), function)
        except ImportError as exc:
            if not self.needs:
                raise
            raise ConfigError(f"{self.stage} engine {self.name!r} needs {self.needs_text}: "
                              f"{self.install_hint} ({exc})") from None


TRANSFORM_ENGINES: Mapping[str, Engine] = {e.name: e for e in (
    Engine("transform", "duckdb", "this process",
           "snoopipe.transform.stage:run_duckdb_transform",
           options=("sizing", "batch_bytes", "threads")),
    Engine("transform", "spark", "PySpark, local[*] unless spark.master says otherwise",
           "snoopipe.transform.spark_engine:run_spark_transform",
           # pandas: PySpark's Arrow functions import it.
           needs=("pandas", "pyspark"), needs_text="PySpark and pandas", options=("sizing",),
           install_hint="pip install 'snoopipe[spark]' (and Java 17 or 21 on PATH or in "
                        "JAVA_HOME)"),
    Engine("transform", "glue", "a run of the job deployed by `snoopipe glue deploy`",
           "snoopipe.transform.glue_engine:run_glue_transform",
           needs=("boto3",), needs_text="boto3", install_hint="pip install 'snoopipe[aws]'"),
)}

VALIDATION_ENGINES: Mapping[str, Engine] = {e.name: e for e in (
    Engine("validation", "duckdb", "reads the lake itself",
           "snoopipe.quality.duckdb_checks:duckdb_checks"),
    Engine("validation", "athena", "Athena over the Glue catalog tables of the S3 lake",
           "snoopipe.quality.athena:athena_checks",
           needs=("boto3", "sqlglot"), needs_text="boto3 and sqlglot",
           install_hint="pip install 'snoopipe[aws]'"),
)}

# The names, for the settings' Literal types.
TRANSFORM_ENGINE_NAMES = tuple(TRANSFORM_ENGINES)
VALIDATION_ENGINE_NAMES = tuple(VALIDATION_ENGINES)


def names_text(engines: Mapping[str, Engine], *, summaries: bool = False) -> str:
    """"duckdb, spark or glue": the names as a sentence says them; with `summaries`,
    each followed by what it is in brackets (help texts)."""
    names = [f"{e.name} ({e.summary})" if summaries else e.name for e in engines.values()]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _lookup(engines: Mapping[str, Engine], stage: str, name: str) -> Engine:
    try:
        return engines[name]
    except KeyError:
        raise ConfigError(f"unknown {stage} engine {name!r}: use {names_text(engines)} "
                          f"(SNOOPIPE_{stage.upper()}_ENGINE)") from None


def transform_engine(name: str) -> Engine:
    """The transform engine called `name`; ConfigError naming the choices otherwise."""
    return _lookup(TRANSFORM_ENGINES, "transform", name)


def validation_engine(name: str) -> Engine:
    """The validation engine called `name`; ConfigError naming the choices otherwise."""
    return _lookup(VALIDATION_ENGINES, "validation", name)


__all__ = ["TRANSFORM_ENGINES", "TRANSFORM_ENGINE_NAMES", "VALIDATION_ENGINES",
           "VALIDATION_ENGINE_NAMES", "Engine", "names_text", "transform_engine",
           "validation_engine"]
