"""The warehouse on Amazon Redshift (`redshift://user:password@host:5439/db`).

Redshift loads from S3 itself: the lake must be on S3 (`s3://bucket/prefix`) and
`redshift.iam_role` (SNOOPIPE_REDSHIFT__IAM_ROLE) the ARN of a role, associated with
the cluster or workgroup, that can read the lake's processed zone.

A load is ONE transaction of plain SQL statements, built by `load_plan`:

    per table:
      CREATE TEMP TABLE snoopipe_file_<t> (<the file's columns, in file order>)
      CREATE TEMP TABLE snoopipe_stage_<t> (<every column>)
      ONE COPY of every processed file of the month partitions the pending runs touched,
      listed in a manifest file in the lake (`manifests/redshift/<t>/<digest>.manifest`):
        COPY snoopipe_file_<t> FROM 's3://.../x.manifest' IAM_ROLE '...'
          FORMAT AS PARQUET MANIFEST
        INSERT INTO snoopipe_stage_<t> SELECT <every column>
          FROM snoopipe_file_<t> WHERE _run_id IN (<pending runs>)
      SELECT _run_id, COUNT(*) FROM snoopipe_stage_<t> GROUP BY _run_id     (rows staged)
      the shared merge (snoopipe.warehouse.sql.merge_statements):
        CREATE TEMP TABLE snoopipe_src_<t> AS <latest row per key>
        DELETE FROM snoopipe_src_<t> USING <t> WHERE <key> AND NOT <replaces>
        MERGE INTO <t> USING snoopipe_src_<t> ...
      SELECT COUNT(*) FROM snoopipe_src_<t>                                  (rows changed)
      DROP TABLE ... (the three temp tables)

Why one COPY per table and load: each COPY is a Redshift commit-queue round trip and
an S3 listing; a backfilled month is a few dozen files, and one COPY of a manifest
loads them on every slice in parallel. Every column is in the files (the month in the
path is derived from `dt`), and COPY from Parquet maps columns by position. The manifest
is named by a digest of its files, so a rerun of the load writes the same object; it
holds each file's `content_length`, which COPY of Parquet through a manifest requires.
Files written before a column was added to tables.py must be rewritten (rerun the
transform, or `snoopipe compact`) before Redshift can COPY them.

Everything but the COPY statements and the DDL is SQL that PostgreSQL 15+ runs as is;
the test suite runs the whole sequence on a real PostgreSQL server with each COPY
replaced by a COPY FROM STDIN of the same file. The generated SQL is also checked by
golden files and by parsing it with sqlglot's Redshift dialect. No Redshift cluster
runs in the tests.

DDL: VARCHAR widths in bytes per column (text up to 65535, Redshift's maximum), keys
`DISTKEY` on the post id (posts.id, comments.post_id, post_metrics.post_id: the join
key, high cardinality, so joins of a post with its comments and metrics are collocated
and no slice is skewed by a big subreddit) and `COMPOUND SORTKEY (subreddit,
created_utc)` (`observed_at` for post_metrics), so filters by subreddit and time
range-restrict scans. Primary keys are declared (Redshift does not enforce them; the
MERGE keeps them unique). These are Redshift's `Dialect` (`RedshiftDialect`); the
statements are the shared ones of `snoopipe.warehouse.sql`, and the schema steps the
warehouse base's.

Driver: `redshift_connector` (Amazon's driver: IAM authentication, Redshift types),
imported only when a Redshift warehouse is used. Query parameters of the URL are passed
to it, e.g. `redshift://awsuser@my-cluster.abc.eu-west-1.redshift.amazonaws.com:5439/dev
?iam=true&cluster_identifier=my-cluster&db_user=awsuser&region=eu-west-1`. With
`?driver=psycopg`, psycopg 3 connects instead (Redshift speaks the PostgreSQL wire
protocol; sslmode=require is added).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from snoopipe.errors import ConfigError, SnoopipeError
from snoopipe.lake import layout
from snoopipe.redact import mask_url, redact, url_secrets
from snoopipe.settings import Settings
from snoopipe.sqltext import sql_string
from snoopipe.tables import TABLES, Column, TableSpec
from snoopipe.warehouse import sql as wsql
from snoopipe.warehouse.base import LoadReport, LoadSource, RunSQL, Warehouse
from snoopipe.warehouse.dialect import Dialect
from snoopipe.warehouse.placeholders import qmark_to_format
from snoopipe.warehouse.readonly import single_read_statement

log = logging.getLogger(__name__)

# Redshift VARCHAR lengths are bytes; 65535 is the maximum.
MAX_VARCHAR = 65535
VARCHAR_BYTES: dict[str, int] = {
    "id": 64, "post_id": 64, "parent_id": 64, "subreddit": 64, "subreddit_id": 64,
    "author": 128, "author_fullname": 64, "distinguished": 64, "domain": 1024,
    "link_flair_text": 1024, "permalink": 4096, "_source": 1024, "_run_id": 64,
    "_raw_file": 1024, "name": 64, "link_flair_css_class": 1024,
    "link_flair_template_id": 64, "author_flair_css_class": 1024, "subreddit_type": 64,
    "post_hint": 64, "thumbnail": 4096, "crosspost_parent": 64, "removed_by_category": 64,
    "removal_reason": 64, "collapsed_reason_code": 64,
}
# DISTKEY and compound SORTKEY per table.
KEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "posts": ("id", ("subreddit", "created_utc")),
    "comments": ("post_id", ("subreddit", "created_utc")),
    "post_metrics": ("post_id", ("subreddit", "observed_at")),
}
_IAM_ROLE_RE = re.compile(
    r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]+"
    r"(,arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]+)*$")
# URL query parameters handed to redshift_connector.connect.
_CONNECT_PARAMS: dict[str, type] = {
    "iam": bool, "cluster_identifier": str, "region": str, "db_user": str,
    "db_groups": str, "auto_create": bool, "profile": str, "ssl": bool, "sslmode": str,
    "timeout": int, "is_serverless": bool, "serverless_acct_id": str,
    "serverless_work_group": str, "application_name": str,
}


class RedshiftDialect(Dialect):
    """VARCHAR sized in bytes per column; distribution and sort keys per table."""

    def column_type(self, column: Column) -> str:
        if column.type == "VARCHAR":
            return f"VARCHAR({VARCHAR_BYTES.get(column.name, MAX_VARCHAR)})"
        return super().column_type(column)

    def table_options(self, table: TableSpec) -> str:
        distkey, sortkey = KEYS[table.name]
        return (f"\nDISTSTYLE KEY DISTKEY ({distkey})\n"
                f"COMPOUND SORTKEY ({', '.join(sortkey)})")


REDSHIFT = RedshiftDialect("redshift")


def file_column(column: Column) -> Column:
    """The column as a Parquet file's column is copied: JSON text is VARCHAR there (COPY
    loads a Parquet string into SUPER as a string, not an object), then JSON_PARSE."""
    return replace(column, type="VARCHAR") if column.type == "JSON" else column


def _file_value(column: Column) -> str:
    """The column's value from the copied file's row, in the table's type."""
    if column.type == "JSON":
        return f"JSON_PARSE({column.name}) AS {column.name}"
    return column.name


def schema_statements() -> list[str]:
    """Tables (IF NOT EXISTS) and views; missing columns are added by the warehouse."""
    return ([wsql.create_table_sql(t, REDSHIFT) for t in TABLES.values()]
            + [wsql.view_sql(name) for name in wsql.VIEWS])


def check_iam_role(role: str | None) -> str:
    if not role or not _IAM_ROLE_RE.fullmatch(role):
        raise ConfigError(
            "the Redshift warehouse loads with COPY from S3 and needs an IAM role: set "
            "redshift.iam_role (SNOOPIPE_REDSHIFT__IAM_ROLE) to the ARN of a role associated "
            "with the cluster, e.g. arn:aws:iam::123456789012:role/snoopipe-redshift-copy"
            + (f" (got {role!r})" if role else ""))
    return role


def copy_sql(target: str, s3_uri: str, iam_role: str, *, manifest: bool = True) -> str:
    if not s3_uri.startswith("s3://"):
        raise ConfigError(f"Redshift COPY reads from S3, not {s3_uri!r}: put the lake on S3 "
                          f"(SNOOPIPE_LAKE_URL=s3://bucket/prefix)")
    return (f"COPY {target} FROM {sql_string(s3_uri)} "
            f"IAM_ROLE {sql_string(check_iam_role(iam_role))} FORMAT AS PARQUET"
            + (" MANIFEST" if manifest else ""))


def manifest_key(table: str, source: LoadSource) -> str:
    """Where the COPY manifest of a table's files is written: named by their digest."""
    digest = hashlib.sha256("\n".join(source.keys).encode()).hexdigest()[:24]
    return f"manifests/redshift/{table}/{digest}.manifest"


def manifest_json(source: LoadSource) -> bytes:
    """A Redshift COPY manifest of the source's files (content_length: COPY of Parquet
    through a manifest needs each file's size)."""
    entries = [{"url": source.lake.uri(k), "mandatory": True,
                "meta": {"content_length": source.lake.size(k)}} for k in source.keys]
    return json.dumps({"entries": entries}, indent=1).encode()


@dataclass(frozen=True)
class Step:
    """One statement of a load. kind: `exec`; `copy` (COPY of the manifest at `uri`,
    listing the files `files`, into `target`, whose columns are `columns` in file
    order); `staged` (rows: run, count); `changed` (one count)."""

    sql: str
    kind: str = "exec"
    table: str = ""
    target: str = ""
    uri: str = ""
    columns: tuple[str, ...] = ()
    files: tuple[str, ...] = ()


def table_plan(table: TableSpec, source: LoadSource, iam_role: str) -> list[Step]:
    name = table.name
    file_table, stage, src = (f"snoopipe_file_{name}", f"snoopipe_stage_{name}",
                              f"snoopipe_src_{name}")
    file_cols = layout.file_columns(table)
    by_name = {c.name: c for c in table.columns}
    runs = ", ".join(sql_string(r) for r in sorted(set(source.run_ids))) or "NULL"
    steps = [
        Step(wsql.temp_table_sql(file_table, [file_column(by_name[c]) for c in file_cols],
                                 REDSHIFT), table=name),
        Step(wsql.temp_table_sql(stage, table.columns, REDSHIFT), table=name),
    ]
    if source.keys:
        uri = source.lake.uri(manifest_key(name, source))
        cols = ", ".join(table.column_names)
        # the files hold every column; JSON ones arrive as text and are parsed to SUPER
        select = ", ".join(_file_value(c) for c in table.columns)
        steps += [
            Step(copy_sql(file_table, uri, iam_role), kind="copy", table=name,
                 target=file_table, uri=uri, columns=tuple(file_cols),
                 files=tuple(source.lake.uri(k) for k in source.keys)),
            Step(f"INSERT INTO {stage} ({cols})\n"
                 f"SELECT {select}\nFROM {file_table} WHERE _run_id IN ({runs})", table=name),
        ]
    steps.append(Step(f"SELECT _run_id, COUNT(*) FROM {stage} GROUP BY _run_id "
                      f"ORDER BY _run_id", kind="staged", table=name))
    steps += [Step(s, table=name) for s in wsql.merge_statements(table, stage, src)]
    steps.append(Step(f"SELECT COUNT(*) FROM {src}", kind="changed", table=name))
    steps += [Step(f"DROP TABLE {t}", table=name) for t in (src, stage, file_table)]
    return steps


def load_plan(sources: Mapping[str, LoadSource], iam_role: str) -> list[Step]:
    """Every statement of one load, in order; run them in ONE transaction."""
    check_iam_role(iam_role)
    steps: list[Step] = []
    for name, source in sources.items():
        steps += table_plan(TABLES[name], source, iam_role)
    return steps


# -- connections ------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionSpec:
    host: str
    port: int
    database: str
    user: str | None
    password: str | None
    options: dict[str, Any]
    driver: str = "redshift_connector"


def parse_url(url: str) -> ConnectionSpec:
    parts = urlsplit(url)
    if parts.scheme != "redshift" or not parts.hostname:
        raise ConfigError(f"invalid Redshift warehouse URL {mask_url(url)!r}: use "
                          f"redshift://user:password@host:5439/database")
    options: dict[str, Any] = {}
    driver = "redshift_connector"
    for key, value in parse_qsl(parts.query):
        if key == "driver":
            if value not in ("redshift_connector", "psycopg"):
                raise ConfigError(f"unknown Redshift driver {value!r}: redshift_connector "
                                  f"or psycopg")
            driver = value
            continue
        kind = _CONNECT_PARAMS.get(key)
        if kind is None:
            raise ConfigError(f"unsupported Redshift URL parameter {key!r}: use "
                              f"{', '.join(sorted(_CONNECT_PARAMS))} or driver")
        options[key] = (value.lower() in ("1", "true", "yes") if kind is bool
                        else int(value) if kind is int else value)
    return ConnectionSpec(
        host=parts.hostname, port=parts.port or 5439,
        database=unquote(parts.path.lstrip("/")) or "dev",
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        options=options, driver=driver)


def default_connect(spec: ConnectionSpec) -> Callable[[], Any]:
    def connect() -> Any:
        if spec.driver == "psycopg":
            import psycopg

            return psycopg.connect(host=spec.host, port=spec.port, dbname=spec.database,
                                   user=spec.user, password=spec.password,
                                   sslmode=spec.options.get("sslmode", "require"))
        try:
            import redshift_connector
        except ImportError:
            raise ConfigError("the Redshift warehouse needs the redshift_connector package: "
                              "pip install 'snoopipe[redshift]' (or add ?driver=psycopg to "
                              "the URL)") from None
        kwargs = {"host": spec.host, "port": spec.port, "database": spec.database,
                  **spec.options}
        if spec.user is not None:
            kwargs["db_user" if spec.options.get("iam") else "user"] = spec.user
        if spec.password is not None:
            kwargs["password"] = spec.password
        return redshift_connector.connect(**kwargs)

    return connect


class RedshiftWarehouse(Warehouse):
    """`connect` returns a DB-API connection (redshift_connector by default)."""

    dialect = REDSHIFT

    def __init__(self, url: str, *, iam_role: str | None,
                 connect: Callable[[], Any] | None = None) -> None:
        self._url = url
        self.url = mask_url(url)
        self.iam_role = iam_role
        if connect is None:
            connect = default_connect(parse_url(url))
        self._connect = connect

    def __repr__(self) -> str:
        return f"RedshiftWarehouse({self.url!r})"

    @contextmanager
    def connect(self) -> Iterator[Any]:
        """A DB-API connection; driver errors are scrubbed of the password."""
        try:
            conn = self._connect()
        except ConfigError:
            raise
        except Exception as exc:  # driver errors: never echo the password
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            text = redact(text, url_secrets(self._url))
            raise SnoopipeError(f"cannot connect to the Redshift warehouse {self.url}: "
                                f"{text}") from None
        try:
            yield conn
        finally:
            conn.close()

    # -- schema -------------------------------------------------------------------------

    @staticmethod
    @contextmanager
    def _transaction(conn: Any) -> Iterator[Any]:
        """A cursor whose statements commit together at the end, or roll back on error
        (DB-API: the drivers open the transaction with the first statement)."""
        cur = conn.cursor()
        try:
            yield cur
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            cur.close()

    @contextmanager
    def _schema_session(self, conn: Any) -> Iterator[RunSQL]:
        """One transaction: tables, missing columns, views."""
        with self._transaction(conn) as cur:
            def run(sql: str, params: Sequence[Any]) -> list[tuple]:
                if params:
                    cur.execute(qmark_to_format(sql), tuple(params))
                else:
                    cur.execute(sql)
                return [tuple(r) for r in cur.fetchall()] if cur.description else []

            yield run

    # -- load ---------------------------------------------------------------------------

    def _run_copy(self, cursor: Any, step: Step) -> None:
        """A COPY step; the PostgreSQL test double replaces it with COPY FROM STDIN."""
        cursor.execute(step.sql)

    def run_plan(self, conn: Any, steps: Sequence[Step]) -> LoadReport:
        """Run the steps in ONE transaction; commit, or roll back on any error."""
        report = LoadReport()
        with self._transaction(conn) as cur:
            for step in steps:
                if step.kind == "copy":
                    self._run_copy(cur, step)
                    continue
                cur.execute(step.sql)
                if step.kind == "staged":
                    report.staged[step.table] = {r[0]: int(r[1]) for r in cur.fetchall()}
                elif step.kind == "changed":
                    report.changed[step.table] = int(cur.fetchone()[0])
        return report

    def load(self, sources: Mapping[str, LoadSource]) -> LoadReport:
        steps = load_plan(sources, self.iam_role or "")
        for name, source in sources.items():
            if source.keys:  # the manifests the COPY steps read, in the lake first
                source.lake.write_bytes(manifest_key(name, source), manifest_json(source))
        with self.connect() as conn:
            self._ensure_schema(conn)
            return self.run_plan(conn, steps)

    # -- reads --------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] | None = None
              ) -> tuple[list[str], list[tuple]]:
        """One read statement (readonly.single_read_statement) in a `BEGIN READ ONLY`
        transaction that is rolled back. NotReadOnlyError for anything else."""
        statement = single_read_statement(sql)
        with self.connect() as conn:
            conn.autocommit = True  # the transaction is this one, explicitly read-only
            cur = conn.cursor()
            try:
                cur.execute("BEGIN READ ONLY")
                if params:
                    cur.execute(qmark_to_format(statement), list(params))
                else:
                    cur.execute(statement)
                if not cur.description:
                    return [], []
                columns = [d[0] for d in cur.description]
                columns = [c.decode() if isinstance(c, bytes) else c for c in columns]
                return columns, [tuple(r) for r in cur.fetchall()]
            finally:
                try:
                    cur.execute("ROLLBACK")  # reads never commit anything
                finally:
                    cur.close()


def from_settings(url: str, settings: Settings) -> RedshiftWarehouse:
    """The Redshift warehouse of `url`; the IAM role is checked at open, not at first load."""
    parse_url(url)
    return RedshiftWarehouse(url, iam_role=check_iam_role(settings.redshift.iam_role))
