"""Where processed and quarantine data live in the lake, and how engines read them.

processed:  processed/{table}/subreddit={sub}/dt={YYYY-MM-DD}/data.parquet
quarantine: quarantine/{kind}/run_id={run_id}/data.parquet

Processed files are zstd Parquet with hive-style partitions: the partition columns
(`subreddit`, `dt`) live in the path, not in the file, as Athena, Glue and Spark expect.
Readers get them back with `hive_partitioning` (DuckDB) or a partitioned table (Athena).
All lake access goes through the Lake API (`list`, `exists`, `uri`), so the same code
reads a local folder or S3.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from snoopipe.lake.base import Lake
from snoopipe.settings import SUBREDDIT_RE
from snoopipe.tables import QUARANTINE as QUARANTINE_TABLE
from snoopipe.tables import TABLES, TableSpec, type_name

if TYPE_CHECKING:
    from snoopipe.state import StateStore

PROCESSED = "processed"
QUARANTINE = "quarantine"
DATA_FILE = "data.parquet"
RUN_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_PARTITION_RE = re.compile(r"subreddit=([A-Za-z0-9_.-]+)/dt=(\d{4}-\d{2}-\d{2})")

QUARANTINE_COLUMNS = tuple((c.name, c.type) for c in QUARANTINE_TABLE.columns)


def attach_lake(con, lake: Lake | None) -> None:
    """Let a DuckDB connection read/write `lake.uri()` locations.

    A local lake needs nothing (uris are paths); a lake with a `register_duckdb(con)`
    method (the S3 lake registers an fsspec filesystem) gets it called.
    """
    register = getattr(lake, "register_duckdb", None)
    if register is not None:
        register(con)


def check_run_id(run_id: str) -> str:
    if not RUN_ID_RE.fullmatch(run_id):
        raise ValueError(f"invalid run id {run_id!r}")
    return run_id


def partition_name(subreddit: str, dt: str) -> str:
    """`subreddit=x/dt=YYYY-MM-DD`, the form used in keys and in stage outputs."""
    return f"subreddit={subreddit}/dt={dt}"


def parse_partition(name: str) -> tuple[str, str]:
    match = _PARTITION_RE.fullmatch(name)
    if not match or not SUBREDDIT_RE.fullmatch(match.group(1)):
        raise ValueError(f"invalid partition {name!r}")
    return match.group(1), match.group(2)


def processed_prefix(table: str) -> str:
    return f"{PROCESSED}/{table}/"


def processed_key(table: str, partition: str) -> str:
    parse_partition(partition)
    return f"{PROCESSED}/{table}/{partition}/{DATA_FILE}"


def partition_of_key(key: str) -> str:
    """The partition (`subreddit=x/dt=y`) of a processed key."""
    parts = key.split("/")
    return "/".join(parts[2:4])


def quarantine_key(kind: str, run_id: str) -> str:
    return f"{QUARANTINE}/{kind}/run_id={check_run_id(run_id)}/{DATA_FILE}"


def processed_keys(lake: Lake, table: str, partitions: Iterable[str] | None = None) -> list[str]:
    """Existing processed data files of a table: all, or those of the given partitions."""
    if partitions is None:
        return [k for k in lake.list(processed_prefix(table)) if k.endswith("/" + DATA_FILE)]
    wanted = set(partitions)
    subreddits = sorted({parse_partition(p)[0] for p in wanted})
    keys: list[str] = []
    for sub in subreddits:
        for key in lake.list(f"{PROCESSED}/{table}/subreddit={sub}/"):
            if key.endswith("/" + DATA_FILE) and partition_of_key(key) in wanted:
                keys.append(key)
    return sorted(keys)


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(sql_string(v) for v in values) + "]"


def empty_relation_sql(table: TableSpec) -> str:
    """A typed, empty relation with the table's columns."""
    cols = ", ".join(f"CAST(NULL AS {type_name(c.type, 'lake')}) AS {c.name}"
                     for c in table.columns)
    return f"SELECT {cols} WHERE FALSE"


def parquet_relation_sql(table: TableSpec, uris: Sequence[str]) -> str:
    """The table's rows from processed Parquet files (DuckDB), columns typed and in order.

    Partition columns come from the paths; files written by an older schema (a column
    missing) read as NULL for that column.
    """
    if not uris:
        return empty_relation_sql(table)
    source = (f"read_parquet({sql_list(list(uris))}, hive_partitioning = true, "
              f"hive_types = {{'subreddit': VARCHAR, 'dt': DATE}}, union_by_name = true)")
    # UNION ALL BY NAME with the empty typed relation fills columns absent from every file.
    cols = ", ".join(f"CAST({c.name} AS {type_name(c.type, 'lake')}) AS {c.name}"
                     for c in table.columns)
    return (f"SELECT {cols} FROM (SELECT * FROM ({empty_relation_sql(table)}) "
            f"UNION ALL BY NAME SELECT * FROM {source})")


def processed_relation_sql(lake: Lake, table: str, partitions: Iterable[str] | None = None) -> str:
    """A DuckDB relation over the table's processed files (all, or some partitions)."""
    spec = TABLES[table]
    keys = processed_keys(lake, table, partitions)
    return parquet_relation_sql(spec, [lake.uri(k) for k in keys])


def file_columns(table: TableSpec) -> list[str]:
    """Columns stored inside a processed file: all but the partition columns."""
    return [c for c in table.column_names if c not in table.partition_by]


def transform_output(state: StateStore, run_id: str) -> dict | None:
    """The output of the run's latest successful transform task, or None.

    It holds what later stages need: line counts per kind and the partitions touched.
    """
    done = [t for t in state.tasks(run_id) if t.stage == "transform" and t.status == "success"]
    if not done:
        return None
    oldest = datetime.min.replace(tzinfo=UTC)
    done.sort(key=lambda t: t.finished_at or t.started_at or oldest)
    return done[-1].output


def transform_counts(state: StateStore, runs: Sequence[str]
                     ) -> list[tuple[str, str, int, int, int]]:
    """(run, kind, raw lines, valid lines, quarantined) of each run's latest transform,
    for the kinds it typed: what the reconciliation checks compare with the manifest."""
    from snoopipe.lake.raw import KINDS

    counts = []
    for run in runs:
        output = transform_output(state, run) or {}
        for kind in KINDS:
            if kind in output.get("valid_lines", {}):
                counts.append((run, kind, int(output.get("raw_lines", {}).get(kind, 0)),
                               int(output["valid_lines"][kind]),
                               int(output.get("quarantined", {}).get(kind, 0))))
    return counts


def pending_runs(state: StateStore, run_id: str) -> list[str]:
    """The runs whose processed rows validate and load with run_id, run_id included.

    `state.runs_pending_load(run_id)`: transform succeeded and no load has taken their
    rows yet (a run stopped by a blocking check stays pending for the next run).
    """
    return sorted(set(state.runs_pending_load(run_id)) | {run_id})
