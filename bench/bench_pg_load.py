"""Rows/s loading processed tables into PostgreSQL: snoopipe's COPY + merge vs baselines.

    .venv/bin/python -m bench.bench_pg_load [posts] [repeats]

1. Makes processed tables the way the pipeline does: `posts` raw posts and 2 × `posts`
   raw comments (the real PRAW samples of ../shared/realdata, about 3.3 KB a line, with
   fresh ids, over 3 subreddits and 30 days) through the real transform into a scratch
   local lake: posts, comments and post_metrics Parquet, partitioned.
2. Starts a PostgreSQL server from the Debian binaries on loopback (as the tests do) and
   loads the SAME files, each method into a fresh database with the same tables
   (primary keys included), in the same run:
   - snoopipe: `PostgresWarehouse.load` — Parquet read with PyArrow, encoded to
     PostgreSQL's binary COPY format (pgpq), all three tables in one transaction; the
     tables are empty, so the rows are copied straight into them;
   - snoopipe again into tables already holding every row (every row matched and
     updated): binary COPY into temp staging tables, then `MERGE`;
   - pandas `DataFrame.to_sql(if_exists="append", method=None)` through SQLAlchemy 2 +
     psycopg 3: SQLAlchemy batches the rows into multi-row INSERTs ("insertmanyvalues");
     a plain INSERT, so it does less work (no staging, no dedup, no upsert);
   - psycopg 3 `executemany` of the same upsert statement (`INSERT ... ON CONFLICT DO
     UPDATE ... WHERE newer`, one parameter row per row; psycopg 3 pipelines it);
   - pandas `to_sql` through psycopg2 with SQLAlchemy's batching off: psycopg2's
     `executemany`, one INSERT round trip per row (the classic `to_sql`; skipped when
     psycopg2 is not installed).
   Every method's time includes reading the Parquet; rows/s = rows loaded / seconds.
   snoopipe is run `repeats` times (best time; each into a fresh database), the
   baselines once.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
from tests.fixtures.harness import RC, RS, Harness

from bench._samples import sample_things
from snoopipe.lake import layout
from snoopipe.orchestration.stack.postgres_server import PostgresServer
from snoopipe.tables import TABLES
from snoopipe.warehouse import sql as wsql
from snoopipe.warehouse.base import LoadSource
from snoopipe.warehouse.nul_repair import replace_nul
from snoopipe.warehouse.parquet_batches import ParquetOpener, arrow_batches
from snoopipe.warehouse.postgres import PostgresWarehouse


def make_processed(root: Path, posts: int) -> tuple[Harness, dict[str, LoadSource]]:
    from snoopipe.transform import run_transform

    h = Harness(root)
    per_file = 50_000
    for kind, path, n, salt in (("posts", RS, posts, "p"), ("comments", RC, 2 * posts, "c")):
        things = sample_things(path, n, salt)
        for start in range(0, n, per_file):
            h.add_things("bench", kind, things[start:start + per_file], subreddit="bench",
                         source="dump:bench")
    h.run("bench")
    run_transform(h.resources, "bench")
    sources = {name: LoadSource(lake=h.lake, keys=tuple(layout.processed_keys(h.lake, name)),
                                run_ids=("bench",)) for name in TABLES}
    return h, sources


def _arrow_table(name: str, source: LoadSource) -> pa.Table:
    batches = [replace_nul(b)[0] for b in arrow_batches(TABLES[name], source,
                                                        opener=ParquetOpener(source.lake))]
    return pa.Table.from_batches(batches, schema=batches[0].schema) if batches else None


def _create_tables(url: str) -> None:
    PostgresWarehouse(url).ensure_schema()


def bench_snoopipe(server: PostgresServer, sources: dict[str, LoadSource], *,
                   reload: bool = False) -> tuple[float, int]:
    """snoopipe's load into a fresh database; reload: into one that holds every row."""
    url = server.create_database(f"b_{secrets.token_hex(4)}")
    wh = PostgresWarehouse(url)
    wh.ensure_schema()  # as after the first load; not timed for any method
    if reload:
        wh.load(sources)
    started = time.perf_counter()
    report = wh.load(sources)
    seconds = time.perf_counter() - started
    rows = sum(report.staged_rows(n) for n in TABLES)
    assert wh.table_counts() == {n: report.staged_rows(n) for n in TABLES}
    assert sum(report.changed.values()) == rows, report.changed
    return seconds, rows


def bench_pandas(server: PostgresServer, sources: dict[str, LoadSource], *,
                 driver: str = "psycopg", batched: bool = True) -> tuple[float, int]:
    """pandas `to_sql`; batched=False turns off SQLAlchemy 2's insertmanyvalues, so the
    driver's own executemany runs (psycopg2: one INSERT round trip per row, the classic
    to_sql behaviour)."""
    import sqlalchemy

    url = server.create_database(f"b_{secrets.token_hex(4)}")
    _create_tables(url)
    engine = sqlalchemy.create_engine(url.replace("postgresql://", f"postgresql+{driver}://"),
                                      use_insertmanyvalues=batched)
    rows = 0
    started = time.perf_counter()
    for name, source in sources.items():
        table = _arrow_table(name, source)
        if table is None:
            continue
        frame = table.to_pandas()
        frame.to_sql(name, engine, if_exists="append", index=False, chunksize=10_000)
        rows += len(frame)
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds, rows


def bench_executemany(server: PostgresServer, sources: dict[str, LoadSource]
                      ) -> tuple[float, int]:
    import psycopg

    url = server.create_database(f"b_{secrets.token_hex(4)}")
    _create_tables(url)
    rows = 0
    started = time.perf_counter()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for name, source in sources.items():
            spec = TABLES[name]
            table = _arrow_table(name, source)
            if table is None:
                continue
            cols = spec.column_names
            updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in spec.primary_key)
            sql = (f"INSERT INTO {name} ({', '.join(cols)}) VALUES "
                   f"({', '.join(['%s'] * len(cols))}) ON CONFLICT "
                   f"({', '.join(spec.primary_key)}) DO UPDATE SET {updates} "
                   f"WHERE excluded._retrieved_at >= {name}._retrieved_at")
            data = list(zip(*(table.column(c).to_pylist() for c in cols), strict=True))
            cur.executemany(sql, data)
            rows += len(data)
        conn.commit()
    return time.perf_counter() - started, rows


def main(posts: int = 40_000, repeats: int = 3) -> None:
    assert wsql.upsert_sql  # the statement snoopipe runs; the baseline spells it per row
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        h, sources = make_processed(Path(tmp), posts)
        files = sum(len(s.keys) for s in sources.values())
        print(f"processed tables: {files} Parquet files, made in "
              f"{time.perf_counter() - t0:.1f} s by the transform")
        with PostgresServer() as server:
            import psycopg

            with psycopg.connect(server.url()) as conn:
                version = conn.execute("SHOW server_version").fetchone()[0]
            ours = [bench_snoopipe(server, sources) for _ in range(repeats)]
            best, rows = min(ours)
            merged, _rows = min(bench_snoopipe(server, sources, reload=True)
                                for _ in range(repeats))
            baselines = []
            pandas_s, pandas_rows = bench_pandas(server, sources)
            baselines.append(("pandas `to_sql`, SQLAlchemy 2 + psycopg 3 (batched "
                              "multi-row INSERT)", pandas_s, pandas_rows))
            many_s, many_rows = bench_executemany(server, sources)
            baselines.append(("psycopg 3 `executemany` of the same upsert (pipelined)",
                              many_s, many_rows))
            try:
                import psycopg2  # noqa: F401  (optional: the classic driver)
            except ImportError:
                print("psycopg2 not installed: classic row-at-a-time baseline skipped")
            else:
                classic_s, classic_rows = bench_pandas(server, sources, driver="psycopg2",
                                                       batched=False)
                baselines.append(("pandas `to_sql`, psycopg2 `executemany` (one INSERT "
                                  "per row)", classic_s, classic_rows))
        assert all(n == rows for _l, _s, n in baselines), (rows, baselines)
        ours_rate = rows / best
        import os

        print(f"rows: {rows:,} (posts, comments, post_metrics); PostgreSQL {version} "
              f"(Debian binaries, loopback); {os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.1f}")
        print("| method | seconds | rows/s | snoopipe is |")
        print("|---|---:|---:|---:|")
        print(f"| snoopipe: binary COPY straight into the empty tables, one transaction "
              f"(best of {repeats}) | {best:.2f} | {ours_rate:,.0f} | 1× |")
        print(f"| snoopipe: binary COPY into staging + MERGE, every row an update (best of "
              f"{repeats}) | {merged:.2f} | {rows / merged:,.0f} | |")
        for label, seconds, _n in baselines:
            print(f"| {label} | {seconds:.2f} | {rows / seconds:,.0f} | "
                  f"{seconds / best:.1f}× faster (merge path {seconds / merged:.1f}×) |")
        h.close()


if __name__ == "__main__":
    main(*[int(a) for a in sys.argv[1:]])
