"""Where processed and quarantine data live in the lake, and how their files are cut.

(The raw zone's keys: `snoopipe.lake.raw`.)

processed:  processed/{table}/month={YYYY-MM}/part-{NNNNN}.parquet
quarantine: quarantine/{kind}/run_id={run_id}/data.parquet

Processed data is partitioned by time only: one hive-style partition per calendar month
of the table's `dt` column (UTC), whatever the subreddits. Inside a partition the rows
are sorted by (subreddit, created_utc or observed_at, key) and cut into files of about
`TARGET_FILE_BYTES` compressed (`snoopipe.transform.partition_files`), numbered from
part-00000: a partition smaller than that is ONE file, a month of all of Reddit is a few
dozen files of 512 MB, and the sort makes each file's and row group's min/max statistics
on `subreddit` tell Athena, Spark and DuckDB which files and row groups to skip. Every
column is stored in the file (`month` is only in the path: it is derived from `dt`).
Why months and not days: a day of posts or post metrics of all of Reddit, and a day of
anything at smaller scale, is below the 128 MB floor that Athena and Spark read well;
months give files of the target size at full scale and one file per table and month
below it (the sizes behind this are in BENCHMARKS.md, "A month of all of Reddit at
scale").

The layout before this one, `processed/{table}/subreddit={sub}/dt={day}/data.parquet`
("legacy"), is recognised only to be migrated by `snoopipe compact`.
All lake access goes through the Lake API (`list`, `exists`, `uri`), so the same code
reads a local folder or S3. DuckDB relations over these files: `snoopipe.lake.relations`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from snoopipe.lake.base import Lake
from snoopipe.tables import QUARANTINE as QUARANTINE_TABLE
from snoopipe.tables import TableSpec

PROCESSED = "processed"
QUARANTINE = "quarantine"
DATA_FILE = "data.parquet"
PARTITION_KEY = "month"  # the path's partition column: YYYY-MM of the table's `dt`
TIME_COLUMN = "dt"  # the column the partition is derived from (tables.py partition_by)
TARGET_FILE_BYTES = 512 * 1024 * 1024  # a partition file is cut after this many bytes
MAX_FILE_BYTES = 1024 * 1024 * 1024  # ... so a file stays under this (one row group more)
ROW_GROUP_ROWS = 122_880  # rows per row group: the unit Parquet statistics prune by
RUN_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_PARTITION_RE = re.compile(r"^month=(\d{4}-(?:0[1-9]|1[0-2]))$")
_PART_RE = re.compile(r"^part-(\d{5})\.parquet$")
_LEGACY_PARTITION_RE = re.compile(r"^subreddit=([A-Za-z0-9_]+)/dt=(\d{4}-\d{2})-\d{2}$")

QUARANTINE_COLUMNS = tuple((c.name, c.type) for c in QUARANTINE_TABLE.columns)


@dataclass(frozen=True)
class FileSizing:
    """How a partition is cut into files: a file is closed after the row group that
    brings it to `target_bytes` (compressed); a row group holds `row_group_rows` rows.

    The defaults give files of 512 MB to 512 MB + one row group (about 10 MB of
    comments), within the 128 MB - 1 GB that Athena, Spark and Redshift COPY read best;
    tests and the scale simulation pass smaller ones to see the cuts on small data.
    """

    target_bytes: int = TARGET_FILE_BYTES
    row_group_rows: int = ROW_GROUP_ROWS

    @classmethod
    def from_settings(cls, settings) -> FileSizing:
        """The sizing of `settings.processed` (SNOOPIPE_PROCESSED__TARGET_FILE_BYTES...)."""
        return cls(target_bytes=settings.processed.target_file_bytes,
                   row_group_rows=settings.processed.row_group_rows)


def check_run_id(run_id: str) -> str:
    if not RUN_ID_RE.fullmatch(run_id):
        raise ValueError(f"invalid run id {run_id!r}")
    return run_id


def partition_name(month: str) -> str:
    """`month=YYYY-MM`, the form used in keys, stage outputs and Glue partitions."""
    name = f"{PARTITION_KEY}={month}"
    if not _PARTITION_RE.match(name):
        raise ValueError(f"invalid month {month!r}")
    return name


def parse_partition(name: str) -> str:
    """The month (`YYYY-MM`) of a partition name; ValueError if it is not one.

    A legacy name (`subreddit=x/dt=YYYY-MM-DD`, in the outputs of transforms that ran
    before the month layout) gives the month it now belongs to.
    """
    # fullmatch: `$` would let a trailing newline through
    match = _PARTITION_RE.fullmatch(name) or _LEGACY_PARTITION_RE.fullmatch(name)
    if not match:
        raise ValueError(f"invalid partition {name!r}")
    return match.group(match.lastindex or 1)


def normalize_partition(name: str) -> str:
    """`month=YYYY-MM` for a partition name of either layout."""
    return f"{PARTITION_KEY}={parse_partition(name)}"


def month_of(day: str) -> str:
    """`YYYY-MM` of an ISO date."""
    if not re.match(r"^\d{4}-\d{2}-\d{2}$", day):
        raise ValueError(f"invalid date {day!r}")
    return day[:7]


def processed_prefix(table: str) -> str:
    return f"{PROCESSED}/{table}/"


def processed_key(table: str, partition: str, part: int = 0) -> str:
    """`processed/{table}/month=YYYY-MM/part-NNNNN.parquet`."""
    if not 0 <= part <= 99_999:
        raise ValueError(f"invalid part number {part}")
    return f"{PROCESSED}/{table}/{normalize_partition(partition)}/part-{part:05d}.parquet"


def partition_of_key(key: str) -> str:
    """The partition (`month=YYYY-MM`) of a processed key (a legacy key: its month)."""
    parts = key.split("/")
    if len(parts) == 5:  # legacy: processed/{table}/subreddit=x/dt=y/data.parquet
        return normalize_partition("/".join(parts[2:4]))
    return normalize_partition(parts[2])


def part_of_key(key: str) -> int:
    match = _PART_RE.match(key.rsplit("/", 1)[-1])
    if not match:
        raise ValueError(f"not a processed part file: {key!r}")
    return int(match.group(1))


def _is_part_key(key: str) -> bool:
    parts = key.split("/")
    return (len(parts) == 4 and parts[0] == PROCESSED and bool(_PARTITION_RE.match(parts[2]))
            and bool(_PART_RE.match(parts[3])))


def quarantine_key(kind: str, run_id: str) -> str:
    return f"{QUARANTINE}/{kind}/run_id={check_run_id(run_id)}/{DATA_FILE}"


def processed_keys(lake: Lake, table: str, partitions: Iterable[str] | None = None) -> list[str]:
    """Existing processed part files of a table: all, or those of the given partitions
    (names of either layout), sorted by partition and part number."""
    if partitions is None:
        return [k for k in lake.list(processed_prefix(table)) if _is_part_key(k)]
    keys: list[str] = []
    for partition in sorted({normalize_partition(p) for p in partitions}):
        keys += [k for k in lake.list(f"{PROCESSED}/{table}/{partition}/") if _is_part_key(k)]
    return keys


def legacy_keys(lake: Lake, table: str) -> list[str]:
    """Data files of the legacy layout (`subreddit=x/dt=y/data.parquet`) still in the lake."""
    out = []
    for key in lake.list(processed_prefix(table)):
        parts = key.split("/")
        if (len(parts) == 5 and parts[4] == DATA_FILE
                and _LEGACY_PARTITION_RE.match("/".join(parts[2:4]))):
            out.append(key)
    return out


def sort_columns(table: TableSpec) -> tuple[str, ...]:
    """The order of rows inside a partition: subreddit, the row's time, then the key.

    Subreddit first so that files and row groups cover narrow subreddit ranges (their
    min/max statistics prune a one-subreddit query); time second so that a subreddit's
    rows of a week are neighbours; the key last so the order is total (the same bytes
    from every engine).
    """
    names = table.column_names
    time = "created_utc" if "created_utc" in names else "observed_at"
    return ("subreddit", time, *[k for k in table.primary_key if k != time])


def file_columns(table: TableSpec) -> list[str]:
    """Columns stored inside a processed file: all of them, in table order."""
    return list(table.column_names)
