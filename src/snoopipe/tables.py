"""The processed tables: one definition that the transform, the checks and every warehouse use.

Types are given in portable SQL (DuckDB / PostgreSQL / Spark all accept them);
warehouse modules map them where a dialect differs. Timestamps are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # VARCHAR | BIGINT | INTEGER | DOUBLE | BOOLEAN | TIMESTAMP | DATE
    nullable: bool = True
    doc: str = ""


@dataclass(frozen=True)
class TableSpec:
    name: str
    kind: str  # the raw kind it comes from: posts | comments
    primary_key: tuple[str, ...]
    # The time column whose UTC month partitions the processed files
    # (`processed/{table}/month=YYYY-MM/`, see transform/layout.py); stored in the files too.
    partition_by: tuple[str, ...]
    columns: tuple[Column, ...]
    doc: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


LINEAGE = (
    Column("_retrieved_at", "TIMESTAMP", False, "when snoopipe received this observation"),
    Column("_source", "VARCHAR", False, "api or dump:<file>"),
    Column("_run_id", "VARCHAR", False, "the run that wrote this row"),
    Column("_raw_file", "VARCHAR", False, "raw zone key of the line this row came from"),
    Column("_raw_line", "BIGINT", False, "1-based line number in that file"),
)

POSTS = TableSpec(
    name="posts",
    kind="posts",
    primary_key=("id",),
    partition_by=("dt",),
    doc="One row per post; the latest observation wins.",
    columns=(
        Column("id", "VARCHAR", False, "base36 id without the t3_ prefix"),
        Column("subreddit", "VARCHAR", False),
        Column("subreddit_id", "VARCHAR"),
        Column("author", "VARCHAR", True, "NULL for deleted accounts"),
        Column("author_fullname", "VARCHAR"),
        Column("title", "VARCHAR"),
        Column("selftext", "VARCHAR", True, "NULL when deleted or removed"),
        Column("url", "VARCHAR"),
        Column("domain", "VARCHAR"),
        Column("permalink", "VARCHAR"),
        Column("link_flair_text", "VARCHAR"),
        Column("distinguished", "VARCHAR"),
        Column("is_self", "BOOLEAN"),
        Column("over_18", "BOOLEAN"),
        Column("spoiler", "BOOLEAN"),
        Column("locked", "BOOLEAN"),
        Column("stickied", "BOOLEAN"),
        Column("is_deleted", "BOOLEAN", False, "author deleted the post"),
        Column("is_removed", "BOOLEAN", False, "a moderator or Reddit removed the post"),
        Column("is_edited", "BOOLEAN", False),
        Column("score", "BIGINT"),
        Column("upvote_ratio", "DOUBLE"),
        Column("num_comments", "BIGINT"),
        Column("created_utc", "TIMESTAMP", False),
        Column("edited_utc", "TIMESTAMP", True, "NULL when not edited or when Reddit gave no time"),
        Column("dt", "DATE", False, "UTC date of created_utc (partition)"),
        *LINEAGE,
    ),
)

COMMENTS = TableSpec(
    name="comments",
    kind="comments",
    primary_key=("id",),
    partition_by=("dt",),
    doc="One row per comment; the latest observation wins.",
    columns=(
        Column("id", "VARCHAR", False, "base36 id without the t1_ prefix"),
        Column("post_id", "VARCHAR", False, "the post's id without t3_ (from link_id)"),
        Column("parent_id", "VARCHAR", True, "fullname of the parent: t3_... or t1_..."),
        Column("subreddit", "VARCHAR", False),
        Column("subreddit_id", "VARCHAR"),
        Column("author", "VARCHAR", True, "NULL for deleted accounts"),
        Column("author_fullname", "VARCHAR"),
        Column("body", "VARCHAR", True, "NULL when deleted or removed"),
        Column("distinguished", "VARCHAR"),
        Column("is_submitter", "BOOLEAN"),
        Column("stickied", "BOOLEAN"),
        Column("is_deleted", "BOOLEAN", False),
        Column("is_removed", "BOOLEAN", False),
        Column("is_edited", "BOOLEAN", False),
        Column("score", "BIGINT"),
        Column("controversiality", "INTEGER"),
        Column("depth", "INTEGER"),
        Column("created_utc", "TIMESTAMP", False),
        Column("edited_utc", "TIMESTAMP"),
        Column("dt", "DATE", False, "UTC date of created_utc (partition)"),
        *LINEAGE,
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
