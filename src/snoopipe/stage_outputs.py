"""What stages return: `StageResult` (every stage) and `TransformOutput` (the transform's
summary, which validation, load and the CLI read back from the state store).

Stored as the task's `output` JSON in the state store (`StateStore.finish_task`), so
`TransformOutput.to_dict()` is the stored form and `from_dict` reads rows of every
version (keys missing in old rows take their defaults; unknown keys are kept).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class StageResult:
    """What a stage reports to the state store: rows in/out and a JSON-able summary."""

    rows_in: int = 0
    rows_out: int = 0
    output: dict[str, Any] = field(default_factory=dict)


# The stored keys of TransformOutput's fields, in the order they are written.
_COUNTS = ("raw_lines", "valid_lines", "quarantined", "partitions", "rows", "raw_files")
_TIMINGS = ("seconds", "typing_seconds", "read_and_type_seconds", "lines_per_second")


@dataclass
class TransformOutput:
    """The output of a run's transform, whichever engine ran it.

    engine: `duckdb`, `spark` or `glue`.
    raw_lines, valid_lines, quarantined: {kind: lines} of each kind typed (`posts`,
        `comments`): raw lines read, lines typed into rows, lines quarantined.
    partitions: {table: ["month=YYYY-MM", ...]} the partitions the run's rows went to
        (`subreddit=x/dt=YYYY-MM-DD` in outputs of versions before the month layout).
    rows: {table: rows of this run written}.
    raw_files: {kind: raw files read}.
    seconds: the whole stage; typing_seconds: DuckDB's typing only; read_and_type_seconds:
        reading and typing the raw lines; lines_per_second: raw lines / that time. Seconds
        are rounded to milliseconds; None: not measured (left out of the stored form).
    extra: engine details stored as they are (`spark`: version and master; `glue`: the
        job run; `job`: the job's own times) and keys of other versions.
    """

    engine: str = ""
    raw_lines: dict[str, int] = field(default_factory=dict)
    valid_lines: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    partitions: dict[str, list[str]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    raw_files: dict[str, int] = field(default_factory=dict)
    seconds: float | None = None
    typing_seconds: float | None = None
    read_and_type_seconds: float | None = None
    lines_per_second: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_in(self) -> int:
        """Raw lines read, all kinds."""
        return sum(self.raw_lines.values())

    @property
    def rows_out(self) -> int:
        """Rows written, all tables."""
        return sum(self.rows.values())

    def not_new(self) -> dict[str, int]:
        """{kind: valid lines whose row this run did not write}, kinds with none left out.

        Such a line's id came with an equal or newer observation (`rules.LATEST_FIRST`):
        already stored from an earlier run, or repeated in this run's lines. So for each
        kind, raw_lines = rows of the kind's table + quarantined + not_new.
        """
        gaps = {kind: valid - self.rows.get(kind, 0) for kind, valid in self.valid_lines.items()}
        return {kind: gap for kind, gap in gaps.items() if gap > 0}

    def set_timings(self, *, started: float, typed_at: float, finished: float,
                    typing_seconds: float | None = None) -> None:
        """Record the times of a run from `time.perf_counter()` values: the stage started,
        the typing ended, the stage finished."""
        self.seconds = round(finished - started, 3)
        if typing_seconds is not None:
            self.typing_seconds = round(typing_seconds, 3)
        self.read_and_type_seconds = round(typed_at - started, 3)
        if typed_at - started > 0:
            self.lines_per_second = int(self.rows_in / (typed_at - started))

    def to_dict(self) -> dict[str, Any]:
        """The stored form: {"engine", "raw_lines", ..., "seconds", ...} plus `extra`'s keys;
        timings that are None are left out."""
        out: dict[str, Any] = {"engine": self.engine}
        out.update({name: getattr(self, name) for name in _COUNTS})
        out.update({name: getattr(self, name) for name in _TIMINGS
                    if getattr(self, name) is not None})
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TransformOutput:
        """Read a stored output (any version: missing keys take their defaults)."""
        known = {"engine", *_COUNTS, *_TIMINGS}
        # Field name -> value: the counts are dicts, the timings numbers or None.
        counts: dict[str, Any] = {name: dict(data.get(name) or {}) for name in _COUNTS}
        timings: dict[str, Any] = {name: data.get(name) for name in _TIMINGS}
        return cls(engine=data.get("engine", ""), **counts, **timings,
                   extra={k: v for k, v in data.items() if k not in known})

    def stage_result(self) -> StageResult:
        """The StageResult of the transform: rows_in = raw lines, rows_out = rows written."""
        return StageResult(rows_in=self.rows_in, rows_out=self.rows_out,
                           output=self.to_dict())
