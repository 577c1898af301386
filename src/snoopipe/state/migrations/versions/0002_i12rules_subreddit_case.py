"""Subreddit names in watermarks and tracked posts: lower case (Reddit's names are
case-insensitive, so `Python` and `python` are one subreddit with one watermark).

Watermarks of one subreddit spelled in several cases merge into one row holding the
greatest value (a watermark never moves back).

Revision ID: 0002_i12rules
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_i12rules"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT source, subreddit, kind, value, run_id, updated_at FROM watermarks "
        "WHERE subreddit <> lower(subreddit)")).all()
    for source, subreddit, kind, value, run_id, updated_at in rows:
        key = {"source": source, "sub": subreddit.lower(), "kind": kind}
        current = conn.execute(sa.text(
            "SELECT value FROM watermarks WHERE source = :source AND subreddit = :sub "
            "AND kind = :kind"), key).first()
        if current is None:
            conn.execute(sa.text(
                "UPDATE watermarks SET subreddit = :sub WHERE source = :source AND "
                "subreddit = :old AND kind = :kind"), {**key, "old": subreddit})
            continue
        if value > current[0]:
            conn.execute(sa.text(
                "UPDATE watermarks SET value = :value, run_id = :run_id, "
                "updated_at = :updated_at WHERE source = :source AND subreddit = :sub "
                "AND kind = :kind"),
                {**key, "value": value, "run_id": run_id, "updated_at": updated_at})
        conn.execute(sa.text(
            "DELETE FROM watermarks WHERE source = :source AND subreddit = :old "
            "AND kind = :kind"), {**key, "old": subreddit})
    conn.execute(sa.text("UPDATE tracked_posts SET subreddit = lower(subreddit) "
                         "WHERE subreddit <> lower(subreddit)"))


def downgrade() -> None:
    # Lower-case names are valid names of the previous release: nothing to undo.
    pass
