"""Security: hostile identifiers and values never reach a path or a statement as code,
credentials never reach an output or a store, and `snoopipe stack up` listens on loopback
only with passwords it generated."""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import shutil
import socket
from pathlib import Path
from urllib.parse import quote

import duckdb
import pytest
import zstandard

from tests.dumps.conftest import comment, post, write_dump
from tests.reliability.conftest import BACKENDS, CONFIG, Site

COUNT_POSTS = "SELECT COUNT(*) FROM posts"

pytestmark = pytest.mark.slow

HOSTILE_NAMES = [
    "../../etc", "python/../../../tmp", "python'; DROP TABLE posts; --", 'py"thon',
    "python OR 1=1", "r/..", "%2e%2e%2fetc", "python\x00", "a" * 30, "pyth on", "",
    "python;rust", "$(touch pwned)",
]


def _no_side_effects(site: Site) -> list[str]:
    """Nothing was written outside the project, and no run or task was recorded."""
    problems = []
    outside = [p for p in site.root.parent.rglob("*")
               if site.root not in p.parents and p != site.root and "pwned" in p.name]
    if outside or (site.root / "pwned").exists():
        problems.append(f"files created: {outside}")
    if site.state("SELECT run_id FROM runs"):
        problems.append("a run was recorded")
    if site.state("SELECT task_id FROM tasks"):
        problems.append("a task was recorded")
    raw = site.lake / "raw"
    if raw.exists() and any(raw.rglob("*")):
        problems.append("raw files written")
    return problems


def test_hostile_subreddit_names_are_refused_everywhere(make_site, tmp_path, fault_log):
    site = make_site()
    dump = write_dump(tmp_path / "RC_2024-03.zst", [comment("c1")])
    entry_points = {
        "`snoopipe run -s NAME`": lambda n: site.snoopipe("run", "-s", n, check=False),
        "SNOOPIPE_SUBREDDITS": lambda n: site.snoopipe(
            "run", check=False, env={"SNOOPIPE_SUBREDDITS": json.dumps([n])}),
        "`snoopipe backfill -s NAME`": lambda n: site.snoopipe(
            "backfill", str(dump), "-s", n, check=False),
        "`snoopipe extract --new -s NAME`": lambda n: site.snoopipe(
            "extract", "--new", "-s", n, check=False),
    }
    bad: list[str] = []
    tried = 0
    for where, call in entry_points.items():
        # every name through `run -s`; a sample through the other doors (same validator)
        names = HOSTILE_NAMES if where.startswith("`snoopipe run") else HOSTILE_NAMES[:4]
        for name in names:
            if "\x00" in name:
                continue  # no argument or environment variable can hold NUL
            tried += 1
            proc = call(name)
            text = proc.stdout + proc.stderr
            # an option's bad value is a usage error (2); a bad configured name fails (1)
            expected = 1 if where == "SNOOPIPE_SUBREDDITS" else 2
            if proc.returncode != expected or "invalid subreddit name" not in text \
                    or "Traceback" in text or "GET /r/" in text:
                bad.append(f"{where} {name!r}: exit {proc.returncode}: {text[-300:]}")
    side_effects = _no_side_effects(site)
    fault_log.record(
        "security", "hostile subreddit names (path traversal, SQL, shell)",
        where="run -s, SNOOPIPE_SUBREDDITS, backfill -s, extract -s", injected=tried,
        outcome=(f"{tried - len(bad)}/{tried} refused with \"invalid subreddit name ...\" and "
                 "exit code 2 (1 for a configured name), no traceback; side effects: "
                 f"{side_effects or 'none'}"))
    assert not bad, "\n".join(bad)
    assert not side_effects, side_effects


def test_hostile_run_ids_are_looked_up_as_values(make_site, fault_log):
    site = make_site()
    site.snoopipe("run", "-s", "python")
    counts = site.warehouse_rows("SELECT COUNT(*) FROM posts")
    hostile = ["x' OR '1'='1", "../../../../etc/passwd", "1; DROP TABLE runs", "%", "_",
               "20261125T000000Z-000000' --"]
    bad = []
    tried = 0
    for index, run_id in enumerate(hostile):
        # every id through `status`; the stage commands share one lookup: two ids each
        for command in ("status", "transform", "validate", "load")[:1 if index > 1 else 4]:
            tried += 1
            proc = site.snoopipe(command, "--run-id", run_id, check=False)
            text = proc.stdout + proc.stderr
            ok = proc.returncode == 1 and "no run with id" in text
            if not ok or "Traceback" in text:
                bad.append(f"{command} --run-id {run_id!r}: {proc.returncode} {text[-200:]}")
    runs = site.state("SELECT COUNT(*) FROM runs")
    fault_log.record(
        "security", "hostile run ids (SQL, LIKE wildcards, path traversal)",
        where="status / transform / validate / load --run-id", injected=tried,
        outcome=(f"{tried - len(bad)}/{tried} answered \"no run with "
                 f"id ...\"; state and warehouse unchanged: "
                 f"{runs == [(1,)] and site.warehouse_rows(COUNT_POSTS) == counts}"))
    assert not bad, "\n".join(bad)
    assert runs == [(1,)]
    assert site.warehouse_rows("SELECT COUNT(*) FROM posts") == counts


def test_lake_keys_partitions_and_raw_names_are_validated(tmp_path, fault_log):
    """The functions every path and partition goes through refuse what could escape."""
    from snoopipe.lake import layout
    from snoopipe.lake.base import check_key
    from snoopipe.lake.local import LocalLake
    from snoopipe.lake.raw import raw_key
    from snoopipe.lake.s3 import _check_prefix

    lake = LocalLake(tmp_path / "lake")
    cases = {
        "lake key": (check_key, ["../x", "raw/../../x", "/etc/passwd", "raw//x", "raw/./x",
                                 "raw/x y", "raw/x;rm", "raw/\x00", "", "raw/x\n",
                                 "raw\n/x"]),
        "local lake write": (lambda k: lake.write_bytes(k, b"x"),
                             ["../escape", "raw/../../escape", "/tmp/escape"]),
        "local lake list prefix": (lake.list, ["../", "/etc/", "raw/../../"]),
        "S3 list prefix": (_check_prefix, ["../", "raw/../", "raw/ x", "raw/x\n"]),
        "partition value": (layout.parse_partition, [
            "subreddit=../x/dt=2024-01-01", "subreddit=python/dt=../../x",
            "subreddit=python'--/dt=2024-01-01", "subreddit=python/dt=2024-01-01/../..",
            "subreddit=python/dt=2024-01-01\n",
            "month=../x", "month=2024-01/../..", "month=2024-13", "month=2024-01'--",
            "month=2024-01\n"]),
        "processed key": (lambda p: layout.processed_key("posts", p),
                          ["subreddit=../../x/dt=2024-01-01", "month=../../x"]),
        "run id": (layout.check_run_id, ["../x", "x' OR '1'='1", "a/b", "", "x" * 65,
                                         "run1\n"]),
        "raw file name": (lambda args: raw_key(*args), [
            ("posts", "../x", "2024-01-01", "run1", "api-a1"),
            ("posts", "python", "2024-01-01", "../run", "api-a1"),
            ("posts", "python", "2024-01-01", "run1", "../../x"),
            ("posts", "python", "../2024-01-01", "run1", "api-a1"),
            ("posts", "python", "2024-01-01", "run1\n", "api-a1"),
            ("posts", "python", "2024-01-01", "run1", "api-a1\n"),
            ("../posts", "python", "2024-01-01", "run1", "api-a1")]),
    }
    accepted = []
    total = 0
    for what, (func, values) in cases.items():
        for value in values:
            total += 1
            try:
                func(value)
            except ValueError:
                continue  # refused, as it must be
            except Exception as exc:  # noqa: BLE001 - refused, but not as a validation
                accepted.append(f"{what} {value!r}: {type(exc).__name__} {exc}")
                continue
            accepted.append(f"{what} {value!r} accepted")
    escaped = list(tmp_path.rglob("*escape*")) + [
        p for p in (Path("/tmp/escape"),) if p.exists()]
    fault_log.record("security", "hostile lake keys, partition values, run ids, raw names",
                     where="lake (local, S3), layout, raw zone", injected=total,
                     outcome=f"{total - len(accepted)}/{total} refused; nothing written "
                             f"outside the lake: {not escaped}")
    assert not accepted, accepted
    assert not escaped


def test_post_ids_from_the_api_are_checked_before_they_reach_a_request_path():
    from snoopipe.errors import ExtractError
    from snoopipe.settings import RedditSettings
    from snoopipe.sources.reddit.client import Credentials, RedditClient
    from snoopipe.sources.reddit.comments import is_reddit_id

    assert is_reddit_id("1abc9z") and is_reddit_id("t" * 13)
    hostile = ["abc\n", "../../api/v1/me", "abc/../x", "abc?x=1", "ABC", "t3_abc", "", "a" * 14,
               None, 12]
    assert not any(is_reddit_id(v) for v in hostile)
    # Nothing listens on port 1: a request would fail differently than the id check.
    config = RedditSettings(oauth_url="http://127.0.0.1:1", reddit_url="http://127.0.0.1:1",
                            max_retries=0)
    client = RedditClient(config, Credentials("cid", "secret"))
    for value in hostile[:6]:
        with pytest.raises(ExtractError, match="not a Reddit id"):
            client.comment_page(value)
        with pytest.raises(ExtractError, match="not a Reddit id"):
            client.comment_page("abc", comment_id=value)


SQL_VALUES = ["'); DROP TABLE posts; --", "Robert'); DROP TABLE comments;--", "%s %s %(x)s",
              "? ?", "$1 $$ $tag$", "\\'; \\\" \\\\", "line1\nline2\r\n\ttab", "\"quoted\"",
              "😀 \u202e right-to-left", "NULL", "", "0x00 \u0000 nul"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_hostile_values_and_file_names_are_stored_verbatim(backend, make_site, tmp_path,
                                                           fault_log):
    """SQL metacharacters in every text value, and a dump file named with quotes and SQL,
    go through backfill, transform and load as data (Parquet, COPY, parameters)."""
    folder = tmp_path / "in"
    folder.mkdir()
    name = "RS_2024-03 x'; DROP TABLE posts;-- \"q\".ndjson"
    posts = [post(f"s{i}", "python", 1_709_251_200 + i, title=value, selftext=value,
                  author=f"u{i}", url=value) for i, value in enumerate(SQL_VALUES)]
    dump = folder / name
    write_dump(dump, posts, compress=None)
    site = make_site(backend)
    proc = site.snoopipe("backfill", str(dump), "-s", "python", check=False)
    got = dict(site.warehouse_rows("SELECT id, title FROM posts"))
    sources = {r[0] for r in site.warehouse_rows("SELECT DISTINCT _source FROM posts")}
    # PostgreSQL text cannot hold NUL: the warehouse stores U+FFFD there (documented).
    want = {f"s{i}": (v.replace("\x00", "\ufffd") if backend == "postgres" else v)
            for i, v in enumerate(SQL_VALUES)}
    raw_keys = site.lake_keys("raw/")
    tables = site.warehouse_rows("SELECT COUNT(*) FROM comments")  # still there
    verbatim = sum(got.get(k) == v for k, v in want.items())
    fault_log.record(
        "security", "SQL/JSON metacharacters in values and in a dump file name",
        where=f"backfill -> {backend}", injected=len(SQL_VALUES) * 3 + 1,
        outcome=(f"backfill exited {proc.returncode}; {verbatim}/{len(want)} titles stored "
                 f"verbatim; _source = {sorted(sources)}; raw keys use a sanitised name "
                 f"({raw_keys[0].rsplit('/', 1)[-1] if raw_keys else '-'}); tables intact"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert got == want
    assert sources == {f"dump:{name}"}
    assert raw_keys and all("'" not in k and '"' not in k and " " not in k for k in raw_keys)
    assert tables == [(0,)]


def test_dump_lines_cannot_forge_their_lineage(make_site, tmp_path, fault_log):
    """A dump line that carries snoopipe's own lineage keys (`_retrieved_at`, `_source`,
    `_source_line`) must not set them: a forged far-future `_retrieved_at` would make the
    line win "latest observation" over every later API row, for ever. Such lines are
    quarantined by the dump reader, also when the key is written with JSON escapes."""
    import orjson

    forged = post("f1", "python", 1_709_251_200, _retrieved_at="2999-01-01T00:00:00.000000Z",
                  _source="api", _source_line=1)
    escaped = orjson.dumps(post("f2", "python", 1_709_251_200))[:-1] + \
        b',"\\u005fretrieved_at":"2999-01-01T00:00:00.000000Z"}'
    honest = post("h1", "python", 1_709_251_300)
    dump = write_dump(tmp_path / "RS_2024-03.ndjson", [forged, escaped, honest], compress=None)
    site = make_site()
    proc = site.snoopipe("backfill", str(dump), "-s", "python", check=False)
    rows = {r[0]: r[1:] for r in site.warehouse_rows(
        "SELECT id, _source, CAST(_retrieved_at AS VARCHAR) FROM posts")}
    reasons = {}
    con = duckdb.connect()
    for key in site.lake_keys("quarantine/dumps/"):
        for line, reason in con.execute(f"SELECT source_line, reason FROM read_parquet("
                                        f"'{site.lake / key}')").fetchall():
            reasons[line] = reason
    con.close()
    loaded = {k: v for k, v in rows.items() if k in ("f1", "f2")}
    fault_log.record(
        "security", "dump lines carrying their own `_retrieved_at`/`_source` (plain and "
                    "JSON-escaped keys)",
        where="backfill (embedded)", injected=2,
        outcome=(f"{2 - len(loaded)}/2 quarantined by the reader"
                 + (f" (\"{reasons.get(1, '')[:60]}...\")" if reasons else "")
                 + (f"; LOADED with forged lineage: {loaded}" if loaded else "")
                 + f"; the honest line loaded: {'h1' in rows}"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "h1" in rows
    assert not loaded, loaded
    assert set(reasons) == {1, 2} and all("lineage key" in r for r in reasons.values()), reasons


# -- credentials --------------------------------------------------------------------------------


def _variants(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), json.dumps(secret)[1:-1]}


def _scan(haystacks: dict[str, bytes], secrets_: dict[str, str]) -> list[str]:
    found = []
    for where, data in haystacks.items():
        for label, secret in secrets_.items():
            for variant in _variants(secret):
                if variant.encode() in data:
                    found.append(f"{label} in {where}")
                    break
    return found


def _lake_blobs(site: Site) -> dict[str, bytes]:
    out = {}
    for key in site.lake_keys(""):
        data = site.lake_bytes(key) or b""
        if key.endswith(".zst"):
            data = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
        out[f"lake {key}"] = data
    return out


def _pg_dump(url: str) -> bytes:
    """Every row of every table of a database, as text."""
    import psycopg

    chunks = []
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema()").fetchall()]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"').fetchall():
                chunks.append(repr(row))
    return "\n".join(chunks).encode()


def _files(root: Path) -> dict[str, bytes]:
    return {f"file {p.relative_to(root)}": p.read_bytes() for p in root.rglob("*")
            if p.is_file() and p.suffix not in (".duckdb", ".wal")}


def test_credentials_never_reach_outputs_or_stores(make_site, postgres_server, s3_env,
                                                   fault_log, tmp_path):
    from snoopipe.simulator import GeneratedCorpus, RedditSimulator
    from tests.fixtures.moto_s3 import DUMMY_SECRET

    reddit_secret = f"reddit-secret-{secrets.token_hex(8)}"
    reddit_password = f"reddit-pw-{secrets.token_hex(8)}"
    sim = RedditSimulator(GeneratedCorpus(seed=11, subreddits=["python"]), host="127.0.0.1",
                          port=0, ratelimit_budget=6000, client_id="leak-client",
                          # It plays reddit.com, whose clock is the pipeline's wall clock
                          # (a pinned one would put every post outside the lookback).
                          # What these tests assert holds on any date.
                          client_secret=reddit_secret).start()
    given = {"Reddit client secret": reddit_secret, "Reddit password": reddit_password,
             "AWS secret key": DUMMY_SECRET, "PostgreSQL password": postgres_server.password,
             "Reddit basic auth": base64.b64encode(
                 f"leak-client:{reddit_secret}".encode()).decode()}
    try:
        site = make_site("postgres", config=CONFIG.replace(
            'subreddits = ["python", "dataengineering"]', 'subreddits = ["python"]'),
            lake_url=s3_env)
        site.env.update({
            "SNOOPIPE_REDDIT__CLIENT_ID": "leak-client",
            "SNOOPIPE_REDDIT__CLIENT_SECRET": reddit_secret,
            "SNOOPIPE_REDDIT__USERNAME": "leak-user",
            "SNOOPIPE_REDDIT__PASSWORD": reddit_password,
            "SNOOPIPE_REDDIT__OAUTH_URL": sim.url, "SNOOPIPE_REDDIT__REDDIT_URL": sim.url})
        dump = write_dump(tmp_path / "RC_2024-03.zst", [comment("c1"), b"{broken"])
        outputs = {}
        runs = [("run", ["-v", "run"]), ("second run", ["-v", "run"]),
                ("status", ["status"]), ("query", ["query", "SELECT * FROM posts LIMIT 3"]),
                ("backfill", ["-v", "backfill", str(dump), "-s", "python"]),
                ("transform", ["-v", "transform"])]
        for label, args in runs:
            proc = site.snoopipe(*args, check=False)
            outputs[f"`snoopipe {label}` output"] = (proc.stdout + proc.stderr).encode()
            assert proc.returncode in (0, 3), proc.stdout + proc.stderr
        # failures: the messages must say what failed without the secret
        wrong_pw = site.warehouse_url.replace(postgres_server.password, "Wr0ng-" + reddit_password)
        failures = {
            "warehouse password refused": {"SNOOPIPE_WAREHOUSE_URL": wrong_pw},
            "state store unreachable": {"SNOOPIPE_STATE_URL": site.state_url.replace(
                f":{postgres_server.port}/", ":1/")},
            "state URL with a mistyped scheme": {"SNOOPIPE_STATE_URL": site.state_url.replace(
                "postgresql://", "postgres-ql://")},
            "lake URL with a mistyped scheme": {"SNOOPIPE_LAKE_URL": f"ftp://u:{reddit_password}@h/x"},
            "Reddit secret refused": {"SNOOPIPE_REDDIT__CLIENT_SECRET": reddit_secret + "x"},
        }
        unclear = []
        for label, env in failures.items():
            proc = site.snoopipe("run", check=False, env=env)
            text = proc.stdout + proc.stderr
            outputs[f"error output ({label})"] = text.encode()
            if proc.returncode == 0 or "Traceback" in text:
                unclear.append(f"{label}: exit {proc.returncode}, "
                               f"{'traceback' if 'Traceback' in text else text[-150:]}")
        stores = {"state store (every row)": _pg_dump(site.state_url),
                  "warehouse (every row)": _pg_dump(site.warehouse_url)}
        stores.update(_lake_blobs(site))
        stores.update(_files(site.root))
        leaks = _scan({**outputs, **stores}, given)
    finally:
        sim.stop()
    fault_log.record(
        "security", "credentials given to a full run (Reddit secret and password, AWS "
                    "secret key, PostgreSQL password in two URLs)",
        where="PostgreSQL state + warehouse, S3 lake, Reddit OAuth",
        injected=len(given),
        outcome=(f"searched {len(outputs)} outputs ({len(failures)} failing runs) and "
                 f"{len(stores)} stored objects (every state and warehouse row, every lake "
                 f"object decompressed, every project file) for the secrets and their "
                 f"URL/JSON/base64 forms: {len(leaks)} found"
                 + (f" ({'; '.join(leaks[:4])})" if leaks else "")
                 + (f"; unclear failures: {'; '.join(unclear)}" if unclear else
                    "; every failure exited 1 with a message, no traceback")))
    assert not leaks, leaks
    assert not unclear, unclear


# -- the local Airflow stack -----------------------------------------------------------


def _listening(pids: set[int]) -> list[tuple[int, str, str]]:
    import psutil

    out = []
    for conn in psutil.net_connections(kind="inet"):
        if conn.status == psutil.CONN_LISTEN and conn.pid in pids:
            out.append((conn.pid, psutil.Process(conn.pid).name(), conn.laddr.ip))
    return out


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_stack_up_listens_on_loopback_only_with_generated_passwords(tmp_path, fault_log):
    import psycopg
    import requests

    from snoopipe.orchestration.stack import procs
    from snoopipe.orchestration.stack.airflow_stack import AirflowStack
    from snoopipe.orchestration.stack.postgres_server import free_port
    from tests.e2e.conftest import Project

    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"snoopipe-rel-stack-{secrets.token_hex(4)}"
    project = Project(tmp_path)
    port = free_port()
    up = project.snoopipe("stack", "up", "--workers", "1", "--dir", str(folder), "--port",
                          str(port), check=False, timeout=600)
    try:
        stack = AirflowStack(folder)
        info = stack.status()
        roots = {s["pid"] for s in info["services"].values() if s.get("pid")}
        pids = {p.pid for pid in roots for p in procs.process_tree(pid)}
        listeners = _listening(pids)
        public = [x for x in listeners if x[2] not in ("127.0.0.1", "::1", "::ffff:127.0.0.1")]
        state = json.loads(stack.state_file.read_text())
        generated = {k: state[k] for k in ("pg_password", "redis_password", "admin_password",
                                           "jwt_secret", "api_secret_key", "fernet_key",
                                           "sim_client_secret")}
        modes = {f.name: oct(f.stat().st_mode & 0o777) for f in (stack.state_file,
                                                                  stack.env_file)}
        # each service refuses what has no password and takes the generated one
        pg_port, redis_port = state["pg_port"], state["redis_port"]
        try:
            psycopg.connect(f"host=127.0.0.1 port={pg_port} user=snoopipe password=wrong "
                            f"dbname=snoopipe", connect_timeout=5).close()
            pg_refuses = False
        except psycopg.OperationalError:
            pg_refuses = True
        psycopg.connect(f"host=127.0.0.1 port={pg_port} user=snoopipe "
                        f"password={state['pg_password']} dbname=snoopipe").close()
        with socket.create_connection(("127.0.0.1", redis_port), timeout=5) as sock:
            sock.sendall(b"PING\r\n")
            redis_reply = sock.recv(100)
        anonymous = requests.get(f"http://127.0.0.1:{state['api_port']}/api/v2/dags",
                                 timeout=10).status_code
        token = requests.post(f"http://127.0.0.1:{state['api_port']}/auth/token",
                              json={"username": "admin", "password": state["admin_password"]},
                              timeout=10).status_code
    finally:
        down = project.snoopipe("stack", "down", "--dir", str(folder), check=False,
                                timeout=300)
        shutil.rmtree(folder, ignore_errors=True)
    fault_log.record(
        "security", "`snoopipe stack up`: listening sockets and passwords",
        where="PostgreSQL, Redis, simulator, Airflow API server, scheduler, DAG processor, "
              "Celery worker", injected=len(listeners),
        outcome=(f"{len(listeners)} listening sockets in {len(pids)} stack processes, "
                 f"{len(public)} not on loopback; {len(generated)} secrets generated "
                 f"({min(len(v) for v in generated.values())}+ characters, all different); "
                 f"stack.json / stack.env {sorted(set(modes.values()))}; PostgreSQL refuses a "
                 f"wrong password: {pg_refuses}; Redis without password: "
                 f"{redis_reply.decode(errors='replace').strip()[:30]!r}; Airflow API "
                 f"anonymous: HTTP {anonymous}, admin with the generated password: HTTP {token}"))
    assert up.returncode == 0, up.stdout + up.stderr
    assert down.returncode == 0
    assert listeners and not public, listeners
    assert len(set(generated.values())) == len(generated)
    assert all(len(v) >= 16 for v in generated.values())
    assert set(modes.values()) == {"0o600"}, modes
    assert pg_refuses and redis_reply.startswith(b"-NOAUTH")
    assert anonymous in (401, 403) and token in (200, 201)
    assert not any(procs.alive(pid) for pid in roots)  # `stack down` stopped them
