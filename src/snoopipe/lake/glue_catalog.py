"""Glue Data Catalog tables for the processed and quarantine zones of an S3 lake.

Athena (and Redshift Spectrum, Glue Spark jobs, EMR) find the lake's Parquet through
these tables:

- `posts`, `comments`, `post_metrics`: the columns stored in the files (every column
  of tables.py), partition key `month` (string `YYYY-MM`, the month of `dt`), location
  `s3://bucket/prefix/processed/{table}/`: one Glue partition per table and month;
- `quarantine`: the quarantine files' columns, partition keys `kind` and `run`, each
  partition at `s3://bucket/prefix/quarantine/{kind}/run_id={run}/`.

Partitions are REGISTERED through the Glue API (`batch_create_partition`) rather than
described by partition projection: a lake of sparse history (a dump of 2005-2024) has
months with no data, which a projected range would make Athena probe on every full
scan, and Redshift Spectrum ignores projection altogether. Registration is exact (the
transform reports the months it wrote), costs one API call per 100 new partitions (a
year of data is 12 partitions per table), and is idempotent (existing partitions are
left alone). Queries filter on `subreddit` and `dt` as columns: the files are sorted
by subreddit, so Parquet statistics skip the rest; add `month = 'YYYY-MM'` to prune
whole months.

`sync` is called by the Athena validation before it queries (so the catalog always
covers what is validated); it creates the database and tables if missing and updates a
table whose columns changed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from snoopipe.errors import ConfigError, LakeError
from snoopipe.lake import layout
from snoopipe.lake.s3 import S3Lake
from snoopipe.tables import QUARANTINE, TABLES, TYPES, TableSpec

log = logging.getLogger(__name__)

GLUE_TYPES = {portable: names["glue"] for portable, names in TYPES.items()}
PARQUET_FORMAT = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "Parameters": {"serialization.format": "1"},
    },
}
TABLE_PARAMETERS = {"classification": "parquet", "EXTERNAL": "TRUE",
                    "parquet.compression": "ZSTD", "snoopipe.managed": "true"}
QUARANTINE_TABLE = "quarantine"
QUARANTINE_PARTITION_KEYS = (("kind", "string"), ("run", "string"))
BATCH = 100  # batch_create_partition takes at most 100 partitions


def glue_columns(table: TableSpec) -> list[dict[str, str]]:
    by_name = {c.name: c for c in table.columns}
    return [{"Name": name, "Type": GLUE_TYPES[by_name[name].type],
             **({"Comment": by_name[name].doc[:255]} if by_name[name].doc else {})}
            for name in layout.file_columns(table)]


def table_input(table: TableSpec, location: str) -> dict[str, Any]:
    """The Glue TableInput of a processed table at `location` (ends with /)."""
    return {
        "Name": table.name,
        "Description": table.doc,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": dict(TABLE_PARAMETERS),
        "PartitionKeys": [{"Name": layout.PARTITION_KEY, "Type": "string"}],
        "StorageDescriptor": {"Columns": glue_columns(table), "Location": location,
                              "Compressed": True, **PARQUET_FORMAT},
    }


def quarantine_table_input(location: str) -> dict[str, Any]:
    return {
        "Name": QUARANTINE_TABLE,
        "Description": "Lines that could not be parsed or typed, with file, line and reason.",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": dict(TABLE_PARAMETERS),
        "PartitionKeys": [{"Name": n, "Type": t} for n, t in QUARANTINE_PARTITION_KEYS],
        "StorageDescriptor": {
            "Columns": [{"Name": c.name, "Type": GLUE_TYPES[c.type]} for c in QUARANTINE.columns],
            "Location": location, "Compressed": True, **PARQUET_FORMAT},
    }


class GlueCatalog:
    """The snoopipe tables of one Glue database, for one S3 lake."""

    def __init__(self, lake: S3Lake, database: str, *, region: str | None = None,
                 catalog_id: str | None = None, client: Any = None) -> None:
        if not isinstance(lake, S3Lake):
            raise ConfigError("the Glue catalog describes an S3 lake: set "
                              "SNOOPIPE_LAKE_URL=s3://bucket/prefix")
        self.lake = lake
        self.database = database
        self.catalog_id = catalog_id
        self._client = client or boto3.session.Session().client("glue", region_name=region)

    # -- helpers ------------------------------------------------------------------------

    def _ids(self) -> dict[str, str]:
        return {"CatalogId": self.catalog_id} if self.catalog_id else {}

    def _error(self, action: str, exc: Exception) -> LakeError:
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            return LakeError(f"Glue catalog: cannot {action} in database {self.database!r}: "
                             f"{err.get('Code', 'error')}: {str(err.get('Message', ''))[:200]}")
        return LakeError(f"Glue catalog: cannot {action}: {type(exc).__name__}: {exc}"[:400])

    def location(self, *parts: str) -> str:
        return f"s3://{self.lake.bucket}/{self.lake._root}{'/'.join(parts)}/"

    # -- database and tables ------------------------------------------------------------

    def ensure_database(self) -> None:
        try:
            self._client.get_database(Name=self.database, **self._ids())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "EntityNotFoundException":
                raise self._error("read the database", exc) from None
            try:
                self._client.create_database(DatabaseInput={
                    "Name": self.database,
                    "Description": "snoopipe: processed Reddit tables (managed by snoopipe)"},
                    **self._ids())
            except ClientError as exc2:
                if exc2.response.get("Error", {}).get("Code") != "AlreadyExistsException":
                    raise self._error("create the database", exc2) from None
        except BotoCoreError as exc:
            raise self._error("read the database", exc) from None

    def _ensure_table(self, wanted: dict[str, Any]) -> None:
        name = wanted["Name"]
        try:
            current = self._client.get_table(DatabaseName=self.database, Name=name,
                                             **self._ids())["Table"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "EntityNotFoundException":
                raise self._error(f"read table {name}", exc) from None
            try:
                self._client.create_table(DatabaseName=self.database, TableInput=wanted,
                                          **self._ids())
                log.info("Glue: created table %s.%s", self.database, name)
            except ClientError as exc2:
                if exc2.response.get("Error", {}).get("Code") != "AlreadyExistsException":
                    raise self._error(f"create table {name}", exc2) from None
            return
        sd = current.get("StorageDescriptor", {})
        if ([(k["Name"], k["Type"]) for k in current.get("PartitionKeys", [])]
                != [(k["Name"], k["Type"]) for k in wanted["PartitionKeys"]]):
            # Other partition keys (the subreddit/dt layout before month partitions):
            # the registered partitions point at files that no longer exist, so the
            # table is recreated empty and the next sync registers the months.
            try:
                self._client.delete_table(DatabaseName=self.database, Name=name,
                                          **self._ids())
                self._client.create_table(DatabaseName=self.database, TableInput=wanted,
                                          **self._ids())
                log.info("Glue: recreated table %s.%s with partition keys %s", self.database,
                         name, [k["Name"] for k in wanted["PartitionKeys"]])
            except ClientError as exc:
                raise self._error(f"recreate table {name}", exc) from None
            return
        same = ([(c["Name"], c["Type"]) for c in sd.get("Columns", [])]
                == [(c["Name"], c["Type"]) for c in wanted["StorageDescriptor"]["Columns"]]
                and sd.get("Location") == wanted["StorageDescriptor"]["Location"]
                and [(k["Name"], k["Type"]) for k in current.get("PartitionKeys", [])]
                == [(k["Name"], k["Type"]) for k in wanted["PartitionKeys"]])
        if not same:
            try:
                self._client.update_table(DatabaseName=self.database, TableInput=wanted,
                                          **self._ids())
                log.info("Glue: updated table %s.%s", self.database, name)
            except ClientError as exc:
                raise self._error(f"update table {name}", exc) from None

    def ensure_tables(self) -> None:
        """The database and the four tables, created or brought up to date."""
        self.ensure_database()
        for table in TABLES.values():
            self._ensure_table(table_input(table, self.location(layout.PROCESSED, table.name)))
        self._ensure_table(quarantine_table_input(self.location(layout.QUARANTINE)))

    # -- partitions ---------------------------------------------------------------------

    def _storage(self, table: str, location: str) -> dict[str, Any]:
        if table == QUARANTINE_TABLE:
            columns = quarantine_table_input("")["StorageDescriptor"]["Columns"]
        else:
            columns = glue_columns(TABLES[table])
        return {"Columns": columns, "Location": location, "Compressed": True, **PARQUET_FORMAT}

    def _add(self, table: str, partitions: list[tuple[list[str], str]]) -> int:
        """batch_create_partition; returns how many were new (existing ones are kept)."""
        created = 0
        for start in range(0, len(partitions), BATCH):
            chunk = partitions[start:start + BATCH]
            try:
                reply = self._client.batch_create_partition(
                    DatabaseName=self.database, TableName=table, **self._ids(),
                    PartitionInputList=[{"Values": values,
                                         "StorageDescriptor": self._storage(table, location),
                                         "Parameters": {}} for values, location in chunk])
            except (ClientError, BotoCoreError) as exc:
                raise self._error(f"add partitions to {table}", exc) from None
            failed = []
            for error in reply.get("Errors", []):
                code = error.get("ErrorDetail", {}).get("ErrorCode", "")
                if code != "AlreadyExistsException":
                    failed.append(f"{error.get('PartitionValues')}: {code} "
                                  f"{error.get('ErrorDetail', {}).get('ErrorMessage', '')}")
            if failed:
                raise LakeError(f"Glue catalog: cannot add partitions to {table}: "
                                + "; ".join(failed[:5]))
            created += len(chunk) - len(reply.get("Errors", []))
        return created

    def add_processed_partitions(self, table: str, partitions: Iterable[str]) -> int:
        """Register `month=YYYY-MM` partitions of a processed table."""
        items = []
        for partition in sorted({layout.normalize_partition(p) for p in partitions}):
            items.append(([layout.parse_partition(partition)],
                          self.location(layout.PROCESSED, table, partition)))
        return self._add(table, items)

    def add_quarantine_partitions(self, runs: Iterable[str]) -> int:
        """Register the quarantine files of these runs that exist."""
        from snoopipe.lake.raw import KINDS

        items = []
        for run in sorted(set(runs)):
            for kind in KINDS:
                key = layout.quarantine_key(kind, run)
                if self.lake.exists(key):
                    items.append(([kind, run], self.location(key.rsplit("/", 1)[0])))
        return self._add(QUARANTINE_TABLE, items)

    def partitions(self, table: str) -> list[list[str]]:
        """Registered partition values of a table, sorted."""
        values = []
        try:
            for page in self._client.get_paginator("get_partitions").paginate(
                    DatabaseName=self.database, TableName=table, **self._ids()):
                values += [p["Values"] for p in page.get("Partitions", [])]
        except (ClientError, BotoCoreError) as exc:
            raise self._error(f"list partitions of {table}", exc) from None
        return sorted(values)

    def sync(self, partitions: Mapping[str, Iterable[str] | None], runs: Iterable[str] = ()
             ) -> dict[str, int]:
        """Tables up to date, then the given partitions of each table registered (None:
        every partition found in the lake), and the quarantine files of `runs`.
        Returns new partitions per table."""
        self.ensure_tables()
        added: dict[str, int] = {}
        for table, wanted in partitions.items():
            if wanted is None:
                wanted = {layout.partition_of_key(k)
                          for k in layout.processed_keys(self.lake, table)}
            added[table] = self.add_processed_partitions(table, wanted)
        added[QUARANTINE_TABLE] = self.add_quarantine_partitions(runs)
        return added
