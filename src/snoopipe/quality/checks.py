"""The data-quality checks, as data.

Each check is a name, the table it is about, a severity (`blocking` stops the load,
`warning` is only recorded), a description, and ONE SQL query returning a single number:
how many rows violate it (0 = passed). The SQL is plain ANSI-style SQL over these
relations, which every engine provides (DuckDB as written; Athena translated with
sqlglot from the same text, `snoopipe.quality.sqlgen`):

- `posts`, `comments`, `post_metrics`: the processed tables (all rows);
- `validated_runs(run_id)`: the runs being validated; checks about new data restrict
  themselves with `_run_id IN (SELECT run_id FROM validated_runs)`;
- `raw_manifest(run_id, kind, raw_file, rows)`: the raw-file manifest of those runs;
- `transform_counts(run_id, kind, raw_lines, valid_lines, quarantined)`: what each run's
  transform reported;
- `quarantine(run_id, kind, raw_file, raw_line, reason)`: the quarantine files of those
  runs, read back from the lake;
- `check_clock(now_utc)`: one row, the validation time (UTC, TIMESTAMP without zone).

An optional `sample_sql` returns a few example rows for the failure message.
"""

from __future__ import annotations

from dataclasses import dataclass

BLOCKING = "blocking"
WARNING = "warning"

IN_SCOPE = "_run_id IN (SELECT run_id FROM validated_runs)"
# Reddit launched in June 2005: nothing older is a real post or comment.
EARLIEST = "TIMESTAMP '2005-06-01 00:00:00'"
LATEST = "(SELECT now_utc FROM check_clock) + INTERVAL '1' DAY"


@dataclass(frozen=True)
class Check:
    name: str
    table: str
    severity: str
    description: str
    sql: str
    sample_sql: str | None = None
    # False: the check looks at the whole table, not only the rows of validated runs.
    scoped: bool = True


def _pk_unique(table: str, key: tuple[str, ...]) -> Check:
    cols = ", ".join(key)
    return Check(
        name=f"{table}_pk_unique",
        table=table,
        severity=BLOCKING,
        description=f"one row per primary key ({cols}) across the whole processed table",
        sql=(f"SELECT COALESCE(SUM(n), 0) FROM (SELECT COUNT(*) AS n FROM {table} "
             f"GROUP BY {cols} HAVING COUNT(*) > 1) AS dup"),
        sample_sql=(f"SELECT {cols}, COUNT(*) AS copies FROM {table} GROUP BY {cols} "
                    f"HAVING COUNT(*) > 1 ORDER BY copies DESC LIMIT 5"),
        scoped=False,
    )


def _not_null(table: str, columns: tuple[str, ...]) -> Check:
    any_null = " OR ".join(f"{c} IS NULL" for c in columns)
    return Check(
        name=f"{table}_keys_not_null",
        table=table,
        severity=BLOCKING,
        description=f"key and lineage columns are never NULL: {', '.join(columns)}",
        sql=f"SELECT COUNT(*) FROM {table} WHERE {IN_SCOPE} AND ({any_null})",
        sample_sql=(f"SELECT {', '.join(columns)} FROM {table} WHERE {IN_SCOPE} "
                    f"AND ({any_null}) LIMIT 5"),
    )


def _created_range(table: str) -> Check:
    bad = f"(created_utc < {EARLIEST} OR created_utc > {LATEST})"
    return Check(
        name=f"{table}_created_utc_range",
        table=table,
        severity=BLOCKING,
        description="created_utc within [2005-06-01, now + 1 day]",
        sql=f"SELECT COUNT(*) FROM {table} WHERE {IN_SCOPE} AND {bad}",
        sample_sql=(f"SELECT id, created_utc, _raw_file, _raw_line FROM {table} "
                    f"WHERE {IN_SCOPE} AND {bad} ORDER BY created_utc LIMIT 5"),
    )


def _range(table: str, name: str, condition_bad: str, description: str,
           key: str = "id") -> Check:
    return Check(
        name=f"{table}_{name}",
        table=table,
        severity=BLOCKING,
        description=description,
        sql=f"SELECT COUNT(*) FROM {table} WHERE {IN_SCOPE} AND ({condition_bad})",
        sample_sql=(f"SELECT {key}, _raw_file, _raw_line FROM {table} WHERE {IN_SCOPE} "
                    f"AND ({condition_bad}) LIMIT 5"),
    )


def _reconciled(kind: str) -> Check:
    per_run = f"""
        SELECT m.run_id, m.raw_lines,
               COALESCE(t.valid_lines, 0) AS valid_lines,
               COALESCE(q.quarantined, 0) AS quarantined
        FROM (SELECT run_id, SUM(rows) AS raw_lines FROM raw_manifest
              WHERE kind = '{kind}' GROUP BY run_id) AS m
        LEFT JOIN (SELECT run_id, SUM(valid_lines) AS valid_lines FROM transform_counts
                   WHERE kind = '{kind}' GROUP BY run_id) AS t ON t.run_id = m.run_id
        LEFT JOIN (SELECT run_id, COUNT(*) AS quarantined FROM quarantine
                   WHERE kind = '{kind}' GROUP BY run_id) AS q ON q.run_id = m.run_id"""
    mismatch = "raw_lines <> valid_lines + quarantined"
    return Check(
        name=f"{kind}_raw_reconciled",
        table=kind,
        severity=BLOCKING,
        description=(f"every raw {kind} line of each run is in a processed table or in "
                     f"quarantine: manifest rows = valid lines + quarantined lines "
                     f"(read back from the quarantine file)"),
        sql=f"SELECT COUNT(*) FROM ({per_run}) AS r WHERE {mismatch}",
        sample_sql=(f"SELECT run_id, raw_lines, valid_lines, quarantined FROM ({per_run}) AS r "
                    f"WHERE {mismatch} ORDER BY run_id LIMIT 5"),
    )


def _post_in_one_subreddit() -> Check:
    # Reddit ids are global and a post never changes subreddit (a crosspost is a new post),
    # so a post id seen under two subreddits is an id clash that the upsert on id would
    # silently merge into one post. The post's own rows count: the post (one row, the merge
    # kept the last) and its score observations (one per observation, each with the
    # subreddit it was seen in). Comments are left out: a comment line whose link_id points
    # outside its own subreddit (a hand-made or damaged dump) is a bad comment, not an id
    # clash. Names are compared case-insensitively, as everywhere in snoopipe.
    # Scope: the post ids the validated runs' rows name, against the whole tables.
    rows = ("(SELECT id AS post_id, subreddit, _run_id FROM posts "
            "UNION ALL SELECT post_id, subreddit, _run_id FROM post_metrics) AS s "
            "LEFT JOIN validated_runs AS vr ON s._run_id = vr.run_id")
    moved = "HAVING COUNT(DISTINCT lower(s.subreddit)) > 1 AND COUNT(vr.run_id) > 0"
    return Check(
        name="posts_one_subreddit",
        table="posts",
        severity=BLOCKING,
        description=("each post id in one subreddit, in posts and post_metrics (a post never "
                     "moves: two subreddits mean two posts with one id, which the upsert "
                     "would merge)"),
        sql=(f"SELECT COUNT(*) FROM (SELECT s.post_id FROM {rows} GROUP BY s.post_id "
             f"{moved}) AS moved"),
        sample_sql=(f"SELECT s.post_id, MIN(s.subreddit) AS subreddit, "
                    f"MAX(s.subreddit) AS other_subreddit FROM {rows} GROUP BY s.post_id "
                    f"{moved} ORDER BY s.post_id LIMIT 5"),
    )


LINEAGE_KEYS = ("_retrieved_at", "_source", "_run_id", "_raw_file", "_raw_line")

CHECKS: tuple[Check, ...] = (
    _pk_unique("posts", ("id",)),
    _pk_unique("comments", ("id",)),
    _pk_unique("post_metrics", ("post_id", "observed_at")),
    _not_null("posts", ("id", "subreddit", "created_utc", "dt", "is_deleted", "is_removed",
                        "is_edited", *LINEAGE_KEYS)),
    _not_null("comments", ("id", "post_id", "subreddit", "created_utc", "dt", "is_deleted",
                           "is_removed", "is_edited", *LINEAGE_KEYS)),
    _not_null("post_metrics", ("post_id", "observed_at", "subreddit", "dt", *LINEAGE_KEYS)),
    _created_range("posts"),
    _created_range("comments"),
    _range("posts", "num_comments_non_negative", "num_comments < 0",
           "num_comments >= 0"),
    _range("posts", "upvote_ratio_range", "upvote_ratio < 0 OR upvote_ratio > 1",
           "upvote_ratio within [0, 1]"),
    _range("post_metrics", "num_comments_non_negative", "num_comments < 0",
           "num_comments >= 0", key="post_id"),
    _range("post_metrics", "upvote_ratio_range", "upvote_ratio < 0 OR upvote_ratio > 1",
           "upvote_ratio within [0, 1]", key="post_id"),
    Check(
        name="comments_post_exists",
        table="comments",
        severity=WARNING,
        description=("every comment's post is in the processed posts (dumps can bring "
                     "comments without their posts)"),
        sql=(f"SELECT COUNT(*) FROM comments WHERE {IN_SCOPE} "
             f"AND post_id NOT IN (SELECT id FROM posts)"),
        sample_sql=(f"SELECT post_id, COUNT(*) AS comments FROM comments WHERE {IN_SCOPE} "
                    f"AND post_id NOT IN (SELECT id FROM posts) GROUP BY post_id "
                    f"ORDER BY comments DESC, post_id LIMIT 5"),
    ),
    _post_in_one_subreddit(),
    _reconciled("posts"),
    _reconciled("comments"),
)
