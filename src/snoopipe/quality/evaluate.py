"""Validation written once for every engine: what the checks read, and how each is judged.

A validation engine (`snoopipe.engines.VALIDATION_ENGINES`: DuckDB in this process,
Athena through boto3) differs only in how it runs a query and how it provides the
relations the checks read (see `snoopipe.quality.checks`). Everything else is here:

- `check_context`: the facts of the helper relations (`validated_runs`, `raw_manifest`,
  `transform_counts`, `check_clock`), read from the state store once per validation;
  `HELPER_COLUMNS` declares their columns. DuckDB registers them as tables, Athena
  inlines them as VALUES (`snoopipe.quality.sqlgen`);
- `evaluate`: each check's query, its number (0 = passed), and for a failure the
  examples of its sample query, as `CheckResult`s;
- `rows_in`: the processed rows of the validated runs.

An engine is a `CheckClient`: it runs a query written in checks.py's dialect and returns
(column names, rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from snoopipe.output import plural
from snoopipe.quality.checks import Check
from snoopipe.state import CheckResult, StateStore
from snoopipe.tables import TABLES

# The helper relations made of state-store facts: name -> ((column, SQL type), ...).
# `quarantine` (read from the lake) and `check_clock` (one timestamp) are not rows of
# facts: each engine builds them from where it reads the lake and `CheckContext.now_utc`.
HELPER_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "validated_runs": (("run_id", "VARCHAR"),),
    "raw_manifest": (("run_id", "VARCHAR"), ("kind", "VARCHAR"), ("raw_file", "VARCHAR"),
                     ("rows", "BIGINT")),
    "transform_counts": (("run_id", "VARCHAR"), ("kind", "VARCHAR"), ("raw_lines", "BIGINT"),
                         ("valid_lines", "BIGINT"), ("quarantined", "BIGINT")),
}


@dataclass
class CheckContext:
    """What the check relations hold for one validation (from the state store).

    runs: the validated runs; manifest: (run_id, kind, raw_file, rows) per raw file;
    transform_counts: (run_id, kind, raw_lines, valid_lines, quarantined); now_utc: the
    validation time (`check_clock`).
    """

    runs: list[str]
    manifest: list[tuple[str, str, str, int]] = field(default_factory=list)
    transform_counts: list[tuple[str, str, int, int, int]] = field(default_factory=list)
    now_utc: datetime = field(default_factory=lambda: datetime.now(UTC))

    def helper_rows(self) -> dict[str, list[tuple]]:
        """The rows of each relation of `HELPER_COLUMNS`."""
        return {"validated_runs": [(r,) for r in self.runs],
                "raw_manifest": list(self.manifest),
                "transform_counts": list(self.transform_counts)}

    def clock(self) -> str:
        """`now_utc` as a TIMESTAMP literal's text, UTC without zone, to the microsecond."""
        return self.now_utc.astimezone(UTC).replace(tzinfo=None).strftime(
            "%Y-%m-%d %H:%M:%S.%f")


def check_context(state: StateStore, runs: Sequence[str], now_utc: datetime) -> CheckContext:
    """The runs, manifest and transform counts the check relations hold."""
    manifest = [(f.run_id, f.kind, f.key, int(f.rows))
                for run in runs for f in state.raw_files(run_id=run)]
    counts = state.transform_counts(runs)
    return CheckContext(runs=list(runs), manifest=manifest, transform_counts=counts,
                        now_utc=now_utc)


class CheckClient(Protocol):
    """A validation engine, opened over one `CheckContext`'s relations."""

    # What a failed query raises: a failed sample query is reported, not raised.
    errors: tuple[type[BaseException], ...]

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run a query written in checks.py's dialect; return (column names, rows)."""

    def output(self) -> dict[str, Any]:
        """What the engine adds to the stage output (its name, query ids...)."""


def number(rows: Sequence[Sequence[Any]]) -> int:
    """The single number of a count's rows: 0 for none or NULL (Athena answers text)."""
    value = rows[0][0] if rows else None
    if value is None or value == "":
        return 0
    return int(float(value)) if isinstance(value, str) else int(value)


def _examples(client: CheckClient, sql: str | None) -> str:
    if not sql:
        return ""
    try:
        names, rows = client.query(sql)
    except client.errors as exc:  # a sample is a nicety; never hide the check result
        return f" (no examples: {exc})"
    if not rows:
        return ""
    return " Examples: " + "; ".join(
        ", ".join(f"{n}={v}" for n, v in zip(names, row, strict=False)) for row in rows)


def evaluate(client: CheckClient, checks: Sequence[Check]) -> list[CheckResult]:
    """Run each check (and, when it fails, its sample) on the client; one result each."""
    results = []
    for check in checks:
        observed = number(client.query(check.sql)[1])
        passed = observed == 0
        if passed:
            message = f"passed: {check.description}"
        else:
            message = (f"{plural(observed, 'violating row')}; expected {check.description}."
                       f"{_examples(client, check.sample_sql)}")
        results.append(CheckResult(name=check.name, table=check.table, severity=check.severity,
                                   passed=passed, observed=observed, message=message))
    return results


def rows_in_sql() -> str:
    """Processed rows of the validated runs (checks.py dialect)."""
    parts = [f"(SELECT COUNT(*) FROM {name} WHERE _run_id IN "
             f"(SELECT run_id FROM validated_runs))" for name in TABLES]
    return "SELECT " + " + ".join(parts) + " AS n"


def rows_in(client: CheckClient) -> int:
    """Processed rows of the validated runs, counted by the client."""
    return number(client.query(rows_in_sql())[1])


__all__ = ["HELPER_COLUMNS", "CheckClient", "CheckContext", "check_context", "evaluate",
           "number", "rows_in", "rows_in_sql"]
