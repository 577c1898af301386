"""Initial state store tables.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("subreddits", sa.Text, nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.Column("error", sa.Text),
    )
    op.create_table(
        "tasks",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("task_id", sa.String(128), primary_key=True),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("partition", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("started_at", TS),
        sa.Column("finished_at", TS),
        sa.Column("rows_in", sa.BigInteger),
        sa.Column("rows_out", sa.BigInteger),
        sa.Column("error", sa.Text),
        sa.Column("output", sa.Text),
    )
    op.create_table(
        "raw_files",
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subreddit", sa.String(32), nullable=False),
        sa.Column("dt", sa.String(10), nullable=False),
        sa.Column("source", sa.String(512), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_raw_files_run_id", "raw_files", ["run_id"])
    op.create_table(
        "watermarks",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("subreddit", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "tracked_posts",
        sa.Column("post_id", sa.String(16), primary_key=True),
        sa.Column("subreddit", sa.String(32), nullable=False),
        sa.Column("created_utc", sa.Float, nullable=False),
        sa.Column("num_comments", sa.Integer),
        sa.Column("comments_fetched_count", sa.Integer),
        sa.Column("last_seen_at", TS, nullable=False),
    )
    op.create_index("ix_tracked_posts_subreddit", "tracked_posts", ["subreddit"])
    op.create_table(
        "check_results",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("check_name", sa.String(128), primary_key=True),
        sa.Column("table_name", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("passed", sa.Integer, nullable=False),
        sa.Column("observed", sa.BigInteger),
        sa.Column("message", sa.Text),
        sa.Column("checked_at", TS, nullable=False),
    )
    op.create_table(
        "loads",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("table_name", sa.String(64), primary_key=True),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("loaded_at", TS, nullable=False),
    )
    op.create_table(
        "locks",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("acquired_at", TS, nullable=False),
        sa.Column("heartbeat_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in ("locks", "loads", "check_results", "tracked_posts", "watermarks",
                  "raw_files", "tasks", "runs"):
        op.drop_table(table)
