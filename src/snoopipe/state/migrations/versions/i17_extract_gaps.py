"""What the API extract could not get: listing gaps, failed comment trees, vanished posts.

Revision ID: i17_extract_gaps
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "i17_extract_gaps"
down_revision = "0002_i12rules"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "extract_gaps",
        sa.Column("gap_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subreddit", sa.String(32), nullable=False, index=True),
        sa.Column("listing", sa.String(16), nullable=False),
        sa.Column("gap_from", sa.Float, nullable=False),
        sa.Column("gap_to", sa.Float, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("detected_at", TS, nullable=False),
        sa.Column("closed_at", TS),
        sa.Column("closed_by", sa.String(64)),
    )
    with op.batch_alter_table("tracked_posts") as batch:
        batch.add_column(sa.Column("tree_error", sa.Text))
        batch.add_column(sa.Column("tree_attempts", sa.Integer))
        batch.add_column(sa.Column("unavailable_since", TS))


def downgrade() -> None:
    with op.batch_alter_table("tracked_posts") as batch:
        batch.drop_column("unavailable_since")
        batch.drop_column("tree_attempts")
        batch.drop_column("tree_error")
    op.drop_table("extract_gaps")
