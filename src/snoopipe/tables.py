"""The processed tables: one definition that the transform, the checks and every warehouse use.

Types are given in portable SQL (DuckDB / PostgreSQL / Spark all accept them);
warehouse modules map them where a dialect differs. Timestamps are UTC. `JSON` is the
semi-structured column: JSON text in the lake's Parquet (and in Spark, Athena, Glue),
DuckDB JSON, PostgreSQL jsonb, Redshift SUPER in the warehouses.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

# Every portable type, by system: `lake` is the SQL type of the value in the transform's
# SQL and the lake's Parquet files (DuckDB SQL), `duckdb` / `postgresql` / `redshift`
# the warehouse column types, `spark` Spark SQL's, `glue` the Glue / Athena (Hive) type.
# The one place a type is mapped: every DDL, cast and schema derives from here.
SYSTEMS = ("lake", "duckdb", "postgresql", "redshift", "spark", "glue")
TYPES: dict[str, dict[str, str]] = {
    "VARCHAR": {"lake": "VARCHAR", "duckdb": "VARCHAR", "postgresql": "TEXT",
                "redshift": "VARCHAR", "spark": "STRING", "glue": "string"},
    "BIGINT": {"lake": "BIGINT", "duckdb": "BIGINT", "postgresql": "BIGINT",
               "redshift": "BIGINT", "spark": "BIGINT", "glue": "bigint"},
    "INTEGER": {"lake": "INTEGER", "duckdb": "INTEGER", "postgresql": "INTEGER",
                "redshift": "INTEGER", "spark": "INT", "glue": "int"},
    "DOUBLE": {"lake": "DOUBLE", "duckdb": "DOUBLE", "postgresql": "DOUBLE PRECISION",
               "redshift": "DOUBLE PRECISION", "spark": "DOUBLE", "glue": "double"},
    "BOOLEAN": {"lake": "BOOLEAN", "duckdb": "BOOLEAN", "postgresql": "BOOLEAN",
                "redshift": "BOOLEAN", "spark": "BOOLEAN", "glue": "boolean"},
    "TIMESTAMP": {"lake": "TIMESTAMP", "duckdb": "TIMESTAMP", "postgresql": "TIMESTAMP",
                  "redshift": "TIMESTAMP", "spark": "TIMESTAMP_NTZ", "glue": "timestamp"},
    "DATE": {"lake": "DATE", "duckdb": "DATE", "postgresql": "DATE", "redshift": "DATE",
             "spark": "DATE", "glue": "date"},
    "BLOB": {"lake": "BLOB", "duckdb": "BLOB", "postgresql": "BYTEA", "redshift": "VARBYTE",
             "spark": "BINARY", "glue": "binary"},
    # Semi-structured: JSON text in files and engines, a JSON type in the warehouses.
    "JSON": {"lake": "VARCHAR", "duckdb": "JSON", "postgresql": "JSONB", "redshift": "SUPER",
             "spark": "STRING", "glue": "string"},
}
ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(), "BIGINT": pa.int64(), "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(), "BOOLEAN": pa.bool_(), "TIMESTAMP": pa.timestamp("us"),
    "DATE": pa.date32(), "BLOB": pa.binary(), "JSON": pa.string(),
}


def type_name(portable: str, system: str) -> str:
    """The name of a portable type (`VARCHAR`, ..., `JSON`) in a system of `SYSTEMS`."""
    return TYPES[portable][system]


def arrow_type(portable: str) -> pa.DataType:
    return ARROW_TYPES[portable]


@dataclass(frozen=True)
class Column:
    """One column, declared once: its name, portable type (`TYPES`), nullability, meaning,
    and, for `posts` / `comments`, where its value comes from in a raw line: the JSON
    `source` key (`a.b`: key `b` of object `a`; `alt` when `source` is absent) and the
    `rule` of `snoopipe.transform.rules` that types it (text, int64, epoch, ...)."""

    name: str
    type: str  # VARCHAR | BIGINT | INTEGER | DOUBLE | BOOLEAN | TIMESTAMP | DATE | JSON
    nullable: bool = True
    doc: str = ""
    rule: str | None = None
    source: str | None = None
    alt: str | None = None
    required: bool = False  # a line without it is quarantined (`missing <source>`)
    prefix: str | None = None  # id / ref_id rules: the fullname prefix stripped
    of: str | None = None  # date_of rule: the timestamp column


@dataclass(frozen=True)
class TableSpec:
    name: str
    kind: str  # the raw kind it comes from: posts | comments
    primary_key: tuple[str, ...]
    # The time column whose UTC month partitions the processed files
    # (`processed/{table}/month=YYYY-MM/`, see lake/layout.py); stored in the files too.
    partition_by: tuple[str, ...]
    columns: tuple[Column, ...]
    doc: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


REMOVAL_REASON_DOC = ("why the item is gone: removed_by_category, else Arctic Shift's "
                      "_meta.removal_type, else the placeholder's kind (deleted, removed, "
                      "reddit, copyright_takedown); NULL when it is not gone")
RETRIEVED_ON_DOC = "when the archive first fetched it (retrieved_on / retrieved_utc)"
UPDATED_ON_DOC = "when the archive fetched it again (updated_on / updated_utc)"
EXTRA_DOC = ("every other field of the line, as received (a JSON object; Arctic Shift's "
             "_meta included)")

LINEAGE = (
    Column("_retrieved_at", "TIMESTAMP", False,
           "when the values were fetched: the raw line's time, or Arctic Shift's "
           "_meta.retrieved_2nd_on / updated_on when later",
           rule="observed", source="_retrieved_at", required=True),
    Column("_source", "VARCHAR", False, "api or dump:<file>", rule="text", source="_source",
           required=True),
    Column("_run_id", "VARCHAR", False, "the run that wrote this row", rule="run_id"),
    Column("_raw_file", "VARCHAR", False, "raw zone key of the line this row came from",
           rule="raw_file"),
    Column("_raw_line", "BIGINT", False, "1-based line number in that file", rule="raw_line"),
)

# The last columns of posts and comments alike: when the archive fetched the thing, every
# field not typed above, the partition date, and the lineage.
THING_TAIL = (
    Column("retrieved_on", "TIMESTAMP", True, RETRIEVED_ON_DOC,
           rule="epoch", source="retrieved_on", alt="retrieved_utc"),
    Column("updated_on", "TIMESTAMP", True, UPDATED_ON_DOC,
           rule="epoch", source="updated_on", alt="updated_utc"),
    Column("extra", "JSON", True, EXTRA_DOC, rule="extra"),
    Column("dt", "DATE", False, "UTC date of created_utc (partition)",
           rule="date_of", of="created_utc"),
    *LINEAGE,
)

POSTS = TableSpec(
    name="posts",
    kind="posts",
    primary_key=("id",),
    partition_by=("dt",),
    doc="One row per post; the latest observation wins.",
    columns=(
        Column("id", "VARCHAR", False, "base36 id without the t3_ prefix",
               rule="id", source="id", required=True, prefix="t3_"),
        Column("subreddit", "VARCHAR", False, rule="subreddit", source="subreddit", required=True),
        Column("subreddit_id", "VARCHAR", rule="text", source="subreddit_id"),
        Column("author", "VARCHAR", True, "NULL for deleted accounts",
               rule="author", source="author"),
        Column("author_fullname", "VARCHAR", rule="text", source="author_fullname"),
        Column("name", "VARCHAR", True, "fullname: t3_ + id", rule="text", source="name"),
        Column("title", "VARCHAR", True, "NULL when it is a placeholder ([deleted by user], ...)",
               rule="title", source="title"),
        Column("selftext", "VARCHAR", True, "NULL when deleted or removed",
               rule="content", source="selftext"),
        Column("url", "VARCHAR", rule="text", source="url"),
        Column("domain", "VARCHAR", rule="text", source="domain"),
        Column("permalink", "VARCHAR", rule="text", source="permalink"),
        Column("link_flair_text", "VARCHAR", rule="text", source="link_flair_text"),
        Column("link_flair_css_class", "VARCHAR", rule="text", source="link_flair_css_class"),
        Column("link_flair_template_id", "VARCHAR", rule="text", source="link_flair_template_id"),
        Column("author_flair_text", "VARCHAR", rule="text", source="author_flair_text"),
        Column("author_flair_css_class", "VARCHAR", rule="text", source="author_flair_css_class"),
        Column("distinguished", "VARCHAR", rule="text", source="distinguished"),
        Column("subreddit_type", "VARCHAR", rule="text", source="subreddit_type"),
        Column("subreddit_subscribers", "BIGINT", rule="int64", source="subreddit_subscribers"),
        Column("is_self", "BOOLEAN", rule="bool", source="is_self"),
        Column("is_video", "BOOLEAN", rule="bool", source="is_video"),
        Column("is_original_content", "BOOLEAN", rule="bool", source="is_original_content"),
        Column("is_gallery", "BOOLEAN", rule="bool", source="is_gallery"),
        Column("post_hint", "VARCHAR", rule="text", source="post_hint"),
        Column("thumbnail", "VARCHAR", rule="text", source="thumbnail"),
        Column("crosspost_parent", "VARCHAR", True, "fullname of the crossposted post",
               rule="text", source="crosspost_parent"),
        Column("num_crossposts", "BIGINT", rule="int64", source="num_crossposts"),
        Column("over_18", "BOOLEAN", rule="bool", source="over_18"),
        Column("spoiler", "BOOLEAN", rule="bool", source="spoiler"),
        Column("locked", "BOOLEAN", rule="bool", source="locked"),
        Column("stickied", "BOOLEAN", rule="bool", source="stickied"),
        Column("archived", "BOOLEAN", rule="bool", source="archived"),
        Column("contest_mode", "BOOLEAN", rule="bool", source="contest_mode"),
        Column("score_hidden", "BOOLEAN", rule="bool", source="score_hidden"),
        Column("is_deleted", "BOOLEAN", False, "author deleted the post",
               rule="deleted", source="selftext"),
        Column("is_removed", "BOOLEAN", False, "a moderator or Reddit removed the post",
               rule="removed", source="selftext"),
        Column("removed_by_category", "VARCHAR", True, "as Reddit gave it",
               rule="text", source="removed_by_category"),
        Column("removal_reason", "VARCHAR", True, REMOVAL_REASON_DOC,
               rule="removal_reason", source="selftext"),
        Column("is_edited", "BOOLEAN", False, rule="edited_flag", source="edited"),
        Column("score", "BIGINT", rule="int64", source="score"),
        Column("upvote_ratio", "DOUBLE", rule="double", source="upvote_ratio"),
        Column("num_comments", "BIGINT", rule="int64", source="num_comments"),
        Column("gilded", "BIGINT", rule="int64", source="gilded"),
        Column("total_awards_received", "BIGINT", rule="int64", source="total_awards_received"),
        Column("created_utc", "TIMESTAMP", False,
               rule="epoch", source="created_utc", required=True),
        Column("edited_utc", "TIMESTAMP", True, "NULL when not edited or when Reddit gave no time",
               rule="edited_time", source="edited"),
        *THING_TAIL,
    ),
)

COMMENTS = TableSpec(
    name="comments",
    kind="comments",
    primary_key=("id",),
    partition_by=("dt",),
    doc="One row per comment; the latest observation wins.",
    columns=(
        Column("id", "VARCHAR", False, "base36 id without the t1_ prefix",
               rule="id", source="id", required=True, prefix="t1_"),
        Column("post_id", "VARCHAR", False, "the post's id without t3_ (from link_id)",
               rule="ref_id", source="link_id", required=True, prefix="t3_"),
        Column("name", "VARCHAR", True, "fullname: t1_ + id", rule="text", source="name"),
        Column("parent_id", "VARCHAR", True, "fullname of the parent: t3_... or t1_...",
               rule="text", source="parent_id"),
        Column("subreddit", "VARCHAR", False, rule="subreddit", source="subreddit", required=True),
        Column("subreddit_id", "VARCHAR", rule="text", source="subreddit_id"),
        Column("subreddit_type", "VARCHAR", rule="text", source="subreddit_type"),
        Column("author", "VARCHAR", True, "NULL for deleted accounts",
               rule="author", source="author"),
        Column("author_fullname", "VARCHAR", rule="text", source="author_fullname"),
        Column("author_flair_text", "VARCHAR", rule="text", source="author_flair_text"),
        Column("author_flair_css_class", "VARCHAR", rule="text", source="author_flair_css_class"),
        Column("body", "VARCHAR", True, "NULL when deleted or removed",
               rule="content", source="body"),
        Column("distinguished", "VARCHAR", rule="text", source="distinguished"),
        Column("is_submitter", "BOOLEAN", rule="bool", source="is_submitter"),
        Column("stickied", "BOOLEAN", rule="bool", source="stickied"),
        Column("archived", "BOOLEAN", rule="bool", source="archived"),
        Column("score_hidden", "BOOLEAN", rule="bool", source="score_hidden"),
        Column("collapsed", "BOOLEAN", rule="bool", source="collapsed"),
        Column("collapsed_reason_code", "VARCHAR", rule="text", source="collapsed_reason_code"),
        Column("is_deleted", "BOOLEAN", False, rule="deleted", source="body"),
        Column("is_removed", "BOOLEAN", False, rule="removed", source="body"),
        Column("removed_by_category", "VARCHAR", True, "as Reddit gave it",
               rule="text", source="removed_by_category"),
        Column("removal_reason", "VARCHAR", True, REMOVAL_REASON_DOC,
               rule="removal_reason", source="body"),
        Column("is_edited", "BOOLEAN", False, rule="edited_flag", source="edited"),
        Column("score", "BIGINT", rule="int64", source="score"),
        Column("controversiality", "INTEGER", rule="int32", source="controversiality"),
        Column("depth", "INTEGER", rule="int32", source="depth"),
        Column("gilded", "BIGINT", rule="int64", source="gilded"),
        Column("total_awards_received", "BIGINT", rule="int64", source="total_awards_received"),
        Column("created_utc", "TIMESTAMP", False,
               rule="epoch", source="created_utc", required=True),
        Column("edited_utc", "TIMESTAMP", rule="edited_time", source="edited"),
        *THING_TAIL,
    ),
)

POST_METRICS = TableSpec(
    name="post_metrics",
    kind="posts",
    primary_key=("post_id", "observed_at"),
    partition_by=("dt",),
    doc="One row per (post, observation time): a post's score history.",
    columns=(
        Column("post_id", "VARCHAR", False),
        Column("observed_at", "TIMESTAMP", False, "= _retrieved_at of the observation"),
        Column("subreddit", "VARCHAR", False),
        Column("score", "BIGINT"),
        Column("upvote_ratio", "DOUBLE"),
        Column("num_comments", "BIGINT"),
        Column("dt", "DATE", False, "UTC date of observed_at (partition)"),
        *LINEAGE,
    ),
)

TABLES: dict[str, TableSpec] = {t.name: t for t in (POSTS, COMMENTS, POST_METRICS)}

# The quarantine files (quarantine/{kind}/run_id=.../data.parquet): one row per line that
# could not be typed, with its reason and origin. Declared once, for every engine.
QUARANTINE = TableSpec(
    name="quarantine",
    kind="",
    primary_key=("run_id", "raw_file", "raw_line"),
    partition_by=(),
    doc="Lines the transform could not type, with the reason and their origin.",
    columns=(
        Column("run_id", "VARCHAR", False),
        Column("raw_file", "VARCHAR", False),
        Column("raw_line", "BIGINT", False),
        Column("reason", "VARCHAR"),
        Column("line", "BLOB", True, "the line's bytes as received"),
        Column("quarantined_at", "TIMESTAMP", False),
    ),
)


def arrow_schema(table: TableSpec, columns: list[str] | None = None) -> pa.Schema:
    """The Arrow schema of a table (or of some of its columns, in that order); NOT NULL
    columns are non-nullable fields."""
    by_name = {c.name: c for c in table.columns}
    names = columns if columns is not None else table.column_names
    return pa.schema([pa.field(n, ARROW_TYPES[by_name[n].type], nullable=by_name[n].nullable)
                      for n in names])
