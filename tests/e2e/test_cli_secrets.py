"""Through the real CLI: passwords of every URL shape are neither printed nor stored."""

from __future__ import annotations

import sqlite3

import pytest

from tests.dumps.conftest import comment, post, write_dump

pytestmark = pytest.mark.slow

PG_PASSWORD = "Pa/ss?w#rd-9f3"  # a generated password with unencoded / ? #
SSL_PASSWORD = "SslKeyPass-77"
DUMP_PASSWORD = "DumpPw-4411"
SIGNATURE = "a1b2c3d4e5f6sig"
TOKEN = "tok-5566-xyz"


def _state_text(project) -> str:
    con = sqlite3.connect(project.root / "data" / "state.db")
    try:
        rows = [row for table in ("runs", "tasks")
                for row in con.execute(f"SELECT * FROM {table}").fetchall()]  # noqa: S608
    finally:
        con.close()
    return "\n".join(map(repr, rows))


@pytest.mark.parametrize("warehouse_url", [
    f"postgresql://snoop:{PG_PASSWORD}@127.0.0.1:1/w",
    f"postgresql://snoop:pw@127.0.0.1:1/w?sslpassword={SSL_PASSWORD}",
    f"snoop:{PG_PASSWORD}@127.0.0.1:1/w",
], ids=["unencoded-password", "sslpassword", "no-scheme"])
def test_no_url_secret_is_printed_or_stored(project, tmp_path, warehouse_url):
    dump = write_dump(tmp_path / "RS_2024-03.zst", [post("p1"), comment("c1")])
    signed = (f"http://dumper:{DUMP_PASSWORD}@127.0.0.1:1/RC_2024-03.zst?"
              f"X-Amz-Signature={SIGNATURE}&token={TOKEN}")
    env = {"SNOOPIPE_WAREHOUSE_URL": warehouse_url}
    commands = [("backfill", str(dump), "-s", "python"), ("status",), ("query", "SELECT 1"),
                ("-v", "load")]
    if "sslpassword" in warehouse_url:  # once is enough: the download retries take seconds
        commands.insert(1, ("backfill", signed, "-s", "python"))
    printed = {}
    for args in commands:
        proc = project.snoopipe(*args, check=False, env=env)
        printed[" ".join(args)] = proc.stdout + proc.stderr
        assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    stored = _state_text(project)
    assert "failed" in stored  # the failures were recorded, with their reasons
    assert "127.0.0.1:1" in stored
    secrets = [PG_PASSWORD, "ss?w#rd", SSL_PASSWORD, DUMP_PASSWORD, SIGNATURE, TOKEN]
    for where, text in {**printed, "state.db": stored}.items():
        leaked = [s for s in secrets if s in text]
        assert not leaked, (where, leaked, text)
    assert any("127.0.0.1:1" in text for text in printed.values())  # errors say where
