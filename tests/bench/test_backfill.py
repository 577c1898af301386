"""The backfill bench's peers (issue 11), small: each writes the 12 comment columns of a
generated `zstd --long=31` dump to Parquet, one row per line with the line's values; and
snoopipe's rows of the table carry their rate against every peer that ran."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
from bench.backfill import PEER_COLUMNS, PEERS, ZSTD, Measure, render, run_peer, snoopipe
from bench.gendump import write_dump

LINES = 2_000


@pytest.mark.parametrize("peer", PEERS, ids=lambda peer: peer.name)
def test_a_peer_writes_every_line_of_the_dump_as_the_12_columns(peer, tmp_path):
    if importlib.util.find_spec(peer.module) is None:
        pytest.skip(f"{peer.module} is not installed in this environment ({peer.install})")
    dump = write_dump(tmp_path / "RC_2023-01.zst", LINES)
    out = tmp_path / "peer.parquet"

    measure = run_peer(peer, sys.executable, dump, out, LINES)

    table = pq.read_table(out)
    assert table.column_names == list(PEER_COLUMNS)
    assert len(PEER_COLUMNS) == 12
    text = subprocess.run([ZSTD, "-dc", "--long=31", str(dump)], capture_output=True,
                          check=True).stdout.decode()
    expected = [{name: json.loads(line)[name] for name in PEER_COLUMNS}
                for line in text.splitlines()]
    assert len(expected) == LINES
    # chdb may write rows out of the dump's order; ids are unique
    assert sorted(table.to_pylist(), key=lambda r: r["id"]) == sorted(
        expected, key=lambda r: r["id"])
    assert measure.peer == peer.name and measure.lines == LINES
    assert measure.note.startswith(f"{LINES:,} Parquet rows")
    assert measure.seconds > 0 and measure.rss_bytes > 0


def test_a_failing_peer_stops_the_bench_with_its_error(tmp_path):
    duckdb_peer = next(peer for peer in PEERS if peer.name == "DuckDB")
    dump = tmp_path / "RC_2023-01.zst"
    subprocess.run([ZSTD, "-q", "--long=31", "-o", str(dump)], input=b'{"id": "a"}\nnot json\n',
                   check=True)
    with pytest.raises(SystemExit, match="Malformed JSON"):
        run_peer(duckdb_peer, sys.executable, dump, tmp_path / "peer.parquet", 2)


def test_snoopipe_rows_give_their_rate_against_each_peer(tmp_path):
    dump = tmp_path / "RC_2023-01.zst"
    dump.write_bytes(b"x")
    results = [
        ("read", Measure("zstd -d", 1.0, 2**20, 1000)),
        ("all", Measure("chdb: ...", 2.0, 2**20, 1000, peer="chdb")),
        ("all", Measure("DuckDB: ...", 4.0, 2**20, 1000, peer="DuckDB")),
        ("all", Measure("snoopipe backfill: dump → processed Parquet", 8.0, 2**20, 1000,
                        "kept 1,000")),
    ]
    table = render(results, 10**6, dump, ["python"])
    assert table.splitlines()[-1].endswith("| kept 1,000; 0.25× chdb, 0.50× DuckDB |")


def test_the_floor_reencodes_and_inserts_every_processed_comment_of_the_run(tmp_path):
    dump = write_dump(tmp_path / "RC_2023-01.zst", LINES)

    to_parquet, total, rss, outputs = snoopipe(dump, tmp_path, ["--all-subreddits"], floor=True)

    floor = outputs["_floor"]
    assert floor["rows"] == outputs["transform"]["rows"]["comments"] == LINES
    assert floor["encode_cpu"] > 0 and floor["insert"] > 0 and floor["insert_cpu"] > 0
    assert 0 < to_parquet < total and rss > 0
    assert set(outputs["_stage_seconds"]) == {"extract", "transform", "validate", "load"}
