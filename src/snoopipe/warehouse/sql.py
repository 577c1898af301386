"""Portable SQL for warehouses: DDL from tables.py, the upsert, and the reporting views.

Written in SQL that DuckDB and PostgreSQL both run (window functions, `MERGE`,
`CREATE OR REPLACE VIEW`). A PostgreSQL warehouse reuses these builders after a `COPY`
into a staging table. DuckDB's tables declare no primary key (`dialect.DUCKDB`): it
merges with `merge_sql`; PostgreSQL before 15 with `upsert_sql` (`INSERT ... ON
CONFLICT`). The DDL is written once for every warehouse: what differs is the backend's
`Dialect` (`snoopipe.warehouse.dialect`: type names from `snoopipe.tables.TYPES`,
whether a table declares its primary key, Redshift's VARCHAR widths and distribution
and sort keys).

Redshift has no `ON CONFLICT`: it merges with the statements of `merge_statements`
(latest row per key into a temp table, drop the rows older than the stored ones, then
`MERGE`). Those statements are plain SQL that PostgreSQL 15+ runs too, so the test
suite runs them on a real PostgreSQL server; `latest_per_key_sql` is shared by all.
"""

from __future__ import annotations

from collections.abc import Sequence

from snoopipe.tables import Column, TableSpec
from snoopipe.transform.rules import LATEST_FIRST
from snoopipe.warehouse.dialect import DUCKDB, Dialect

# The columns a table has now (its name the one parameter), in any of the warehouses.
EXISTING_COLUMNS_SQL = ("SELECT column_name FROM information_schema.columns "
                        "WHERE table_schema = current_schema() AND table_name = ?")


def columns_ddl(columns: Sequence[Column], dialect: Dialect = DUCKDB, *,
                not_null: bool = True) -> str:
    """`name type [NOT NULL]` per column, one per line (not_null=False: no NOT NULL)."""
    return ",\n    ".join(
        f"{c.name} {dialect.column_type(c)}{' NOT NULL' if not_null and not c.nullable else ''}"
        for c in columns)


def create_table_sql(table: TableSpec, dialect: Dialect = DUCKDB) -> str:
    """The table, if missing: its columns, primary key (when the dialect declares one:
    `Dialect.primary_key`) and the dialect's table options."""
    key = (f",\n    PRIMARY KEY ({', '.join(table.primary_key)})" if dialect.primary_key
           else "")
    return (f"CREATE TABLE IF NOT EXISTS {table.name} (\n"
            f"    {columns_ddl(table.columns, dialect)}{key}\n)"
            f"{dialect.table_options(table)}")


def add_column_sql(table: TableSpec, column: Column, dialect: Dialect = DUCKDB) -> str:
    """A column added to tables.py later; nullable, since existing rows have no value."""
    return f"ALTER TABLE {table.name} ADD COLUMN {column.name} {dialect.column_type(column)}"


def temp_table_sql(name: str, columns: Sequence[Column], dialect: Dialect = DUCKDB, *,
                   on_commit_drop: bool = False) -> str:
    """A temporary table of `columns`, all nullable (staging: checked when merged)."""
    return (f"CREATE TEMP TABLE {name} (\n    {columns_ddl(columns, dialect, not_null=False)}"
            f"\n)" + (" ON COMMIT DROP" if on_commit_drop else ""))


def latest_per_key_sql(table: TableSpec, staging: str) -> str:
    """One row per primary key from a staging relation: the latest observation."""
    cols = ", ".join(table.column_names)
    return (f"SELECT {cols} FROM (SELECT {cols}, ROW_NUMBER() OVER ("
            f"PARTITION BY {', '.join(table.primary_key)} ORDER BY {', '.join(LATEST_FIRST)}"
            f") AS _snoopipe_rn FROM {staging}) AS latest WHERE _snoopipe_rn = 1")


def _later_sql(left: str, right: str) -> str:
    """`left`'s observation is later than `right`'s, by `rules.LATEST_FIRST` (every term
    DESC: a greater value is later), expanded term by term: Redshift has no row
    comparison. NULL when a compared column is NULL on either side."""
    terms = [term.split()[0] for term in LATEST_FIRST]
    assert all(term.split()[1:] == ["DESC"] for term in LATEST_FIRST)
    sql = f"{left}.{terms[-1]} > {right}.{terms[-1]}"
    for column in reversed(terms[:-1]):
        sql = (f"{left}.{column} > {right}.{column} OR "
               f"({left}.{column} = {right}.{column} AND ({sql}))")
    return sql


def replaces_sql(table: TableSpec, new: str, stored: str) -> str:
    """The rule of every warehouse's upsert, declared once: the `new` row of a key
    replaces the `stored` one when the stored observation is not later
    (`rules.LATEST_FIRST`; a NULL lineage column compares as not later) and some column
    differs (NULLs equal). So a reload of the same rows changes nothing and counts 0,
    a later observation wins, and a row re-typed from the same raw line (a transform
    rerun under new rules) replaces its old typing. Never NULL; plain SQL that DuckDB,
    PostgreSQL and Redshift run (no row comparison, no IS DISTINCT FROM).

    JSON columns (`extra`) are not compared: Redshift's SUPER has no portable equality,
    and a line's `extra` is its keys no typed column reads, so the same raw line gives
    the same `extra` unless the typed columns changed too (which are compared)."""
    same = " AND ".join(
        f"COALESCE({new}.{c.name} = {stored}.{c.name}, "
        f"{new}.{c.name} IS NULL AND {stored}.{c.name} IS NULL)"
        for c in table.columns if c.name not in table.primary_key and c.type != "JSON")
    return f"NOT COALESCE({_later_sql(stored, new)}, FALSE) AND NOT ({same})"


def upsert_sql(table: TableSpec, staging: str, *, dedupe: bool = True) -> str:
    """Insert new keys; update existing ones the staged row replaces (`replaces_sql`).

    dedupe=False skips the latest-per-key window, for a staging relation known to hold
    one row per key (the loader knows from the key columns it streams): the same result
    without sorting it.
    """
    cols = ", ".join(table.column_names)
    updates = ", ".join(f"{c} = excluded.{c}" for c in table.column_names
                        if c not in table.primary_key)
    rows = latest_per_key_sql(table, staging) if dedupe else f"SELECT {cols} FROM {staging}"
    return (f"INSERT INTO {table.name} ({cols})\n{rows}\n"
            f"ON CONFLICT ({', '.join(table.primary_key)}) DO UPDATE SET {updates}\n"
            f"WHERE {replaces_sql(table, 'excluded', table.name)}")


def merge_sql(table: TableSpec, staging: str, *, dedupe: bool = True) -> str:
    """`upsert_sql` as one `MERGE`, for a table without a primary key index (DuckDB):
    matched keys are updated when the staged row replaces the stored one
    (`replaces_sql`, as the `WHEN MATCHED` condition), other keys inserted. Returns one
    row, the number of rows inserted or updated. dedupe as in `upsert_sql`: the source
    must hold one row per key, since a MERGE does not check it."""
    cols = table.column_names
    updates = ", ".join(f"{c} = src.{c}" for c in cols if c not in table.primary_key)
    rows = (latest_per_key_sql(table, staging) if dedupe
            else f"SELECT {', '.join(cols)} FROM {staging}")
    return (f"MERGE INTO {table.name} USING ({rows}) AS src "
            f"ON {key_match_sql(table, table.name, 'src')}\n"
            f"WHEN MATCHED AND {replaces_sql(table, 'src', table.name)} "
            f"THEN UPDATE SET {updates}\n"
            f"WHEN NOT MATCHED THEN INSERT ({', '.join(cols)}) "
            f"VALUES ({', '.join(f'src.{c}' for c in cols)})")


def replace_statements(table: TableSpec, staging: str, keys: str, *, dedupe: bool = True
                       ) -> tuple[list[str], str, list[str]]:
    """`merge_sql` as a DELETE then an INSERT, for loads too large to update in place
    (DuckDB holds an UPDATE's new values in memory until it commits: 2.7 GB for 1 M
    comments): (statements before, the INSERT, statements after); the INSERT's count is
    the number of rows changed. dedupe as in `upsert_sql`.

    1. the temp table `keys`: the keys of the stored rows the staged ones replace
       (`replaces_sql`); kept narrow, since DuckDB's DELETE cannot spill a join carrying
       every column (it ran out of 1 GB on 12.5 M comments);
    2. delete those rows;
    3. insert the staged rows whose key is not stored: the new keys and the replacements;
    4. drop `keys`.
    """
    cols = ", ".join(table.column_names)
    rows = latest_per_key_sql(table, staging) if dedupe else f"SELECT {cols} FROM {staging}"
    pk = ", ".join(f"src.{k}" for k in table.primary_key)
    before = [
        (f"CREATE TEMP TABLE {keys} AS SELECT {pk} FROM {table.name} "
         f"JOIN ({rows}) AS src ON {key_match_sql(table, table.name, 'src')} "
         f"WHERE {replaces_sql(table, 'src', table.name)}"),
        (f"DELETE FROM {table.name} USING {keys} AS src "
         f"WHERE {key_match_sql(table, table.name, 'src')}"),
    ]
    insert = (f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM ({rows}) AS src "
              f"WHERE NOT EXISTS (SELECT 1 FROM {table.name} "
              f"WHERE {key_match_sql(table, table.name, 'src')})")
    return before, insert, [f"DROP TABLE {keys}"]


def key_match_sql(table: TableSpec, left: str, right: str) -> str:
    """`left.k = right.k AND ...` over the primary key."""
    return " AND ".join(f"{left}.{k} = {right}.{k}" for k in table.primary_key)


def merge_statements(table: TableSpec, staging: str, source: str, *,
                     dedupe: bool = True) -> list[str]:
    """The MERGE form of `upsert_sql`, as statements for one transaction.

    1. `source` (a temp table): one row per key from `staging`, the latest observation
       (dedupe=False: `staging` holds one row per key already and is the source itself);
    2. drop from it the rows that do not replace their stored row (`replaces_sql`: the
       stored one is later, or equal in every column);
    3. MERGE it into the table: update matched keys, insert the others.
    After step 2 every row of `source` is inserted or updated, so `SELECT COUNT(*) FROM
    source` is the number of rows changed. MERGE's source must be a table on Redshift
    (no subquery), and its SET/INSERT column names are unqualified.
    """
    cols = table.column_names
    updates = ", ".join(f"{c} = src.{c}" for c in cols if c not in table.primary_key)
    source = source if dedupe else staging
    create = ([f"CREATE TEMP TABLE {source} AS {latest_per_key_sql(table, staging)}"]
              if dedupe else [])
    return [
        *create,
        (f"DELETE FROM {source} USING {table.name} "
         f"WHERE {key_match_sql(table, table.name, source)} "
         f"AND NOT ({replaces_sql(table, source, table.name)})"),
        (f"MERGE INTO {table.name} USING {source} AS src "
         f"ON {key_match_sql(table, table.name, 'src')}\n"
         f"WHEN MATCHED THEN UPDATE SET {updates}\n"
         f"WHEN NOT MATCHED THEN INSERT ({', '.join(cols)}) "
         f"VALUES ({', '.join(f'src.{c}' for c in cols)})"),
    ]


VIEWS: dict[str, str] = {
    # Per subreddit and UTC day: posts, comments, distinct authors of either, mean post score.
    "daily_activity": """
WITH p AS (
    SELECT subreddit, dt AS day, COUNT(*) AS posts,
           AVG(CAST(score AS DOUBLE PRECISION)) AS mean_post_score
    FROM posts GROUP BY subreddit, dt
), c AS (
    SELECT subreddit, dt AS day, COUNT(*) AS comments
    FROM comments GROUP BY subreddit, dt
), a AS (
    SELECT subreddit, day, COUNT(DISTINCT author) AS distinct_authors FROM (
        SELECT subreddit, dt AS day, author FROM posts WHERE author IS NOT NULL
        UNION ALL
        SELECT subreddit, dt AS day, author FROM comments WHERE author IS NOT NULL
    ) AS authors GROUP BY subreddit, day
), d AS (
    SELECT subreddit, day FROM p UNION SELECT subreddit, day FROM c
)
SELECT d.subreddit, d.day,
       COALESCE(p.posts, 0) AS posts,
       COALESCE(c.comments, 0) AS comments,
       COALESCE(a.distinct_authors, 0) AS distinct_authors,
       p.mean_post_score
FROM d
LEFT JOIN p ON p.subreddit = d.subreddit AND p.day = d.day
LEFT JOIN c ON c.subreddit = d.subreddit AND c.day = d.day
LEFT JOIN a ON a.subreddit = d.subreddit AND a.day = d.day
""",
    # Per subreddit and UTC day: the 10 highest-scored posts.
    "top_posts_daily": """
SELECT subreddit, day, rank, id, title, score, num_comments, permalink FROM (
    SELECT subreddit, dt AS day, id, title, score, num_comments, permalink,
           ROW_NUMBER() OVER (PARTITION BY subreddit, dt
                              ORDER BY score DESC NULLS LAST, num_comments DESC NULLS LAST, id)
               AS rank
    FROM posts
) AS ranked
WHERE rank <= 10
""",
}


def view_sql(name: str) -> str:
    return f"CREATE OR REPLACE VIEW {name} AS {VIEWS[name].strip()}"
