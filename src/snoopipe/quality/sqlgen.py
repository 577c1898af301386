"""Athena SQL generated from the ONE definition of each check (snoopipe.quality.checks).

A check's SQL is written once, over the relations that `checks.py` documents. For
DuckDB those relations are views and tables of the validation connection. For Athena
(Trino SQL) `to_athena` parses the same text with sqlglot and:

- qualifies the processed tables (`posts`, `comments`, `post_metrics`) with the Glue
  database, so they read the lake through the catalog;
- prepends the other relations as CTEs (`WITH validated_runs AS (VALUES ...), ...`):
  the runs, the raw-file manifest and the transform's counts
  (`snoopipe.quality.evaluate.CheckContext`, as DuckDB gets them) are inlined as
  VALUES; `quarantine` reads the Glue `quarantine` table restricted to the validated
  runs; `check_clock` is the validation time;
- writes the result in sqlglot's Athena dialect with every identifier quoted.

Nothing in checks.py is written twice; a new check gets its Athena form for free, and
`tests/backends/test_athena_sql.py` keeps golden copies and parses each with the Athena
dialect.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlglot
from sqlglot import exp

from snoopipe.quality.evaluate import HELPER_COLUMNS, CheckContext
from snoopipe.sqltext import sql_literal
from snoopipe.tables import TABLES

READ_DIALECT = "duckdb"  # the dialect checks.py is written in
DIALECT = "athena"
HELPERS = ("validated_runs", "raw_manifest", "transform_counts", "quarantine", "check_clock")
# Athena rejects query strings above 262,144 bytes; past this many characters of
# manifest VALUES, the manifest is summed per run and kind (the checks use only sums).
MAX_MANIFEST_CHARS = 120_000


def _values(columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[object]]) -> str:
    """A relation of literal rows (or a typed empty one)."""
    names = ", ".join(n for n, _t in columns)
    if not rows:
        typed = ", ".join(f"CAST(NULL AS {t}) AS {n}" for n, t in columns)
        return f"SELECT {typed} WHERE FALSE"
    body = ", ".join("(" + ", ".join(sql_literal(v) for v in row) + ")" for row in rows)
    return f"SELECT {names} FROM (VALUES {body}) AS v({names})"


def helper_relations(ctx: CheckContext, database: str) -> dict[str, str]:
    """The SQL (Trino / Athena) of each helper relation."""
    rows = ctx.helper_rows()
    relations = {name: _values(columns, rows[name]) for name, columns in HELPER_COLUMNS.items()}
    if len(relations["raw_manifest"]) > MAX_MANIFEST_CHARS:
        sums: dict[tuple[str, str], int] = {}
        for run, kind, _file, n in ctx.manifest:
            sums[(run, kind)] = sums.get((run, kind), 0) + n
        relations["raw_manifest"] = _values(
            HELPER_COLUMNS["raw_manifest"],
            [(r, k, None, n) for (r, k), n in sorted(sums.items())])
    runs = ", ".join(sql_literal(r) for r in ctx.runs) or "NULL"
    return {
        **relations,
        "quarantine": (f'SELECT run_id, kind, raw_file, raw_line, reason '
                       f'FROM "{database}"."quarantine" WHERE run IN ({runs})'),
        "check_clock": f"SELECT TIMESTAMP '{ctx.clock()[:-3]}' AS now_utc",
    }


def to_athena(sql: str, *, database: str, relations: dict[str, str]) -> str:
    """One check query (checks.py dialect) as an Athena query over the Glue database."""
    tree = sqlglot.parse_one(sql, read=READ_DIALECT)
    used: set[str] = set()
    for table in tree.find_all(exp.Table):
        if table.args.get("db"):
            continue
        if table.name in TABLES:
            table.set("db", exp.to_identifier(database))
        elif table.name in HELPERS:
            used.add(table.name)
    if used:
        if not isinstance(tree, exp.Query):
            raise ValueError(f"a check must be a query: {sql[:80]!r}")
        for name in HELPERS:  # a fixed order: stable text for the golden files
            if name in used:
                tree = tree.with_(name, as_=sqlglot.parse_one(relations[name], read=DIALECT),
                                  copy=False)
    return tree.sql(dialect=DIALECT, identify=True)


def check_queries(checks, ctx: CheckContext, database: str) -> list[tuple[str, str, str | None]]:
    """(name, Athena SQL, Athena sample SQL or None) for each check."""
    relations = helper_relations(ctx, database)
    return [(c.name, to_athena(c.sql, database=database, relations=relations),
             to_athena(c.sample_sql, database=database, relations=relations)
             if c.sample_sql else None) for c in checks]
