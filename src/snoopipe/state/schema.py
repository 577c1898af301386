"""The state store's tables, as SQLAlchemy Core metadata.

The same definitions serve SQLite (embedded) and PostgreSQL (production); the
Alembic migrations in `migrations/versions` create them. Timestamps are stored as
timezone-aware UTC; JSON payloads as JSON text for portability.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),  # incremental | backfill | stage
    Column("status", String(16), nullable=False),  # running | success | failed | interrupted
    Column("subreddits", Text, nullable=False),  # JSON list
    Column("params", Text, nullable=False, default="{}"),  # JSON object
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("error", Text),
)

tasks = Table(
    "tasks",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("task_id", String(128), primary_key=True),
    Column("stage", String(16), nullable=False),
    Column("partition", String(64)),
    Column("status", String(16), nullable=False),  # running | success | failed | interrupted
    Column("attempt", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("rows_in", BigInteger),
    Column("rows_out", BigInteger),
    Column("error", Text),
    Column("output", Text),  # JSON object
)

raw_files = Table(
    "raw_files",
    metadata,
    Column("key", String(512), primary_key=True),
    Column("run_id", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("subreddit", String(32), nullable=False),
    Column("dt", String(10), nullable=False),
    Column("source", String(512), nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

watermarks = Table(
    "watermarks",
    metadata,
    Column("source", String(64), primary_key=True),  # e.g. api:new
    Column("subreddit", String(32), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("value", Float, nullable=False),  # epoch seconds (created_utc)
    Column("run_id", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

tracked_posts = Table(
    "tracked_posts",
    metadata,
    Column("post_id", String(16), primary_key=True),
    Column("subreddit", String(32), nullable=False, index=True),
    Column("created_utc", Float, nullable=False),
    Column("num_comments", Integer),
    # num_comments when the comment tree was last fetched; a refresh that sees more
    # comments than this makes the tree due again.
    Column("comments_fetched_count", Integer),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    # The last comment-tree fetch that failed (NULL once one succeeds), and how many
    # runs in a row failed it: a later run retries it up to extract.max_tree_attempts.
    Column("tree_error", Text),
    Column("tree_attempts", Integer),
    # Set when /api/info left the post out of its answer (deleted for good, or hidden),
    # cleared when Reddit serves it again; the deletion sync decides what it means.
    Column("unavailable_since", DateTime(timezone=True)),
)

# Time ranges of a subreddit's listing that the API extract could not read: cut by the
# ~1000-item listing cap (a dump backfill fills them), or left by a listing that ended
# early (the watermark stays before them; a later run closes them).
extract_gaps = Table(
    "extract_gaps",
    metadata,
    Column("gap_id", Integer, primary_key=True, autoincrement=True),
    Column("subreddit", String(32), nullable=False, index=True),
    Column("listing", String(16), nullable=False),  # new
    Column("gap_from", Float, nullable=False),  # epoch seconds (created_utc), exclusive
    Column("gap_to", Float, nullable=False),  # the oldest post that was read
    Column("reason", String(32), nullable=False),  # listing_cap | listing_dead_end
    Column("run_id", String(64), nullable=False),
    Column("detected_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("closed_by", String(64)),  # the run that read it, or the backfill that filled it
)

check_results = Table(
    "check_results",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("check_name", String(128), primary_key=True),
    Column("table_name", String(64), nullable=False),
    Column("severity", String(16), nullable=False),  # blocking | warning
    Column("passed", Integer, nullable=False),
    Column("observed", BigInteger),
    Column("message", Text),
    Column("checked_at", DateTime(timezone=True), nullable=False),
)

loads = Table(
    "loads",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("table_name", String(64), primary_key=True),
    Column("rows", BigInteger, nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False),
)

locks = Table(
    "locks",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("acquired_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
)
