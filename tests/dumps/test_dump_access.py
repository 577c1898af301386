"""Which dump files and URLs a backfill reads: settings.dump_access, strict for the DAG."""

from __future__ import annotations

import http.server
import threading

import pytest

from snoopipe.errors import ConfigError
from snoopipe.orchestration.airflow.tasks import check_dump_files
from snoopipe.settings import DumpAccessSettings, Settings
from snoopipe.sources.dumps import resolve_input
from snoopipe.sources.dumps.access import DumpAccessError, check_dump_access
from tests.dumps.conftest import JAN_2023, comment, write_dump
from tests.e2e.conftest import BASE_CONFIG, Project


@pytest.fixture
def settings(tmp_path):
    return Settings(base_dir=str(tmp_path), data_dir="data")


@pytest.fixture
def dumps(tmp_path):
    inside = tmp_path / "data" / "dumps"
    inside.mkdir(parents=True)
    return {"inside": write_dump(inside / "RC_2024-03.zst", [comment("c1")]),
            "plain": write_dump(inside / "RC_2024-04.ndjson", [comment("c2")], compress=None),
            "outside": write_dump(tmp_path / "RC_2024-05.zst", [comment("c3")])}


def test_the_dag_reads_only_files_under_data_dir_dumps_by_default(settings, dumps, tmp_path):
    check_dump_files(settings, [str(dumps["inside"]), str(dumps["plain"])])
    with pytest.raises(DumpAccessError, match="not inside the allowed folders"):
        check_dump_files(settings, [str(dumps["outside"])])
    # a symlink inside the allowed folder that leads out of it is followed, then refused
    link = dumps["inside"].parent / "RC_2024-06.zst"
    link.symlink_to(dumps["outside"])
    with pytest.raises(DumpAccessError, match="not inside"):
        check_dump_files(settings, [str(link)])
    with pytest.raises(DumpAccessError, match="not inside"):
        check_dump_files(settings, [f"{dumps['inside'].parent}/../../RC_2024-05.zst"])
    # the command line (the user's own access) reads it
    check_dump_access(resolve_input(str(dumps["outside"])), settings, trusted=True)


def test_configured_roots_apply_everywhere(tmp_path, dumps):
    settings = Settings(base_dir=str(tmp_path), data_dir="data",
                        dump_access=DumpAccessSettings(allowed_roots=["."]))
    check_dump_files(settings, [str(dumps["outside"])])
    narrow = Settings(base_dir=str(tmp_path), data_dir="data",
                      dump_access=DumpAccessSettings(allowed_roots=["data/dumps"]))
    with pytest.raises(DumpAccessError):
        check_dump_access(resolve_input(str(dumps["outside"])), narrow, trusted=True)


@pytest.mark.parametrize("content", [b"root:$6$salt$hash:19000:0:99999:7:::\n",
                                     b"-----BEGIN OPENSSH PRIVATE KEY-----\n",
                                     b"#!/bin/sh\n", b"\x7fELF\x02\x01\x01"])
def test_files_that_are_not_dumps_are_refused(settings, tmp_path, content):
    path = tmp_path / "data" / "dumps" / "RC_2024-03.zst"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(DumpAccessError, match="not a dump file"):
        check_dump_files(settings, [str(path)])
    # `snoopipe backfill` (the user's own file) reads it, quarantining each line
    check_dump_access(resolve_input(str(path)), settings, trusted=True)


def test_urls_need_an_allowed_scheme_and_host(tmp_path, settings):
    url = "https://files.example.org/reddit/RC_2024-03.zst?token=t0k"
    with pytest.raises(DumpAccessError, match="allowed_url_hosts") as refused:
        check_dump_files(settings, [url])
    assert "t0k" not in str(refused.value)
    for internal in ("http://127.0.0.1:8080/RC_2024-03.zst", "http://169.254.169.254/latest/",
                     "http://localhost/RC.zst"):
        with pytest.raises(DumpAccessError):
            check_dump_files(settings, [internal])
    check_dump_access(resolve_input(url), settings, trusted=True)  # the CLI: any host
    allowed = Settings(base_dir=str(tmp_path), dump_access=DumpAccessSettings(
        allowed_url_hosts=[".example.org"], allowed_url_schemes=["https"]))
    check_dump_files(allowed, [url])
    for refused_url in ("http://files.example.org/RC.zst", "https://example.org.evil.test/RC.zst",
                        "https://127.0.0.1/RC.zst"):
        with pytest.raises(DumpAccessError):
            check_dump_files(allowed, [refused_url])


def test_dag_refusals_are_not_retried(settings, tmp_path):
    with pytest.raises(ConfigError, match="dump file not found"):
        check_dump_files(settings, [str(tmp_path / "missing.zst")])
    assert issubclass(DumpAccessError, ConfigError)  # tasks.NOT_RETRYABLE


def test_allowed_hosts_may_name_a_port(tmp_path):
    settings = Settings(base_dir=str(tmp_path), dump_access=DumpAccessSettings(
        allowed_url_hosts=["files.example.org:8443", "[::1]:8080", "mirror.example.org"]))
    for url in ("https://files.example.org:8443/RC.zst", "http://[::1]:8080/RC.zst",
                "http://mirror.example.org:9000/RC.zst"):
        check_dump_files(settings, [url])
    for url in ("https://files.example.org/RC.zst", "https://files.example.org:5432/RC.zst",
                "http://[::1]/RC.zst"):
        with pytest.raises(DumpAccessError, match="allowed_url_hosts"):
            check_dump_files(settings, [url])


# -- redirects of a dump URL, through the CLI, against real loopback HTTP servers -------------


class _Site:
    """An HTTP server on loopback that serves the dump at /RC_2023-01.zst and redirects
    /go/<n>/RC_2023-01.zst to redirects[n]; it records every request (path, headers)."""

    def __init__(self, dump: bytes, redirects: dict[str, str]) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                site.requests.append((self.path, dict(self.headers)))
                parts = self.path.split("/")
                if self.path.startswith("/go/") and parts[2] in redirects:
                    self.send_response(302)
                    self.send_header("Location", redirects[parts[2]])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.path.split("?")[0] == "/RC_2023-01.zst":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(dump)))
                    self.end_headers()
                    self.wfile.write(dump)
                else:
                    self.send_error(404)

            def log_message(self, *args) -> None:  # noqa: D102 - no noise
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sites(tmp_path):
    """Two dump servers: `main` (127.0.0.1:<port>) and `mirror` (reached as localhost),
    both allowed, each by its own port; main's redirects are set per test."""
    dump = write_dump(tmp_path / "RC_2023-01.zst",
                      [comment(f"r{i}", "python", JAN_2023 + i) for i in range(50)]).read_bytes()
    redirects: dict[str, str] = {}
    main, mirror = _Site(dump, redirects), _Site(dump, {})
    project = Project(tmp_path / "p")
    project.root.mkdir()
    project.write_config(BASE_CONFIG + f"""
[dump_access]
allowed_url_hosts = ["127.0.0.1:{main.port}", "localhost:{mirror.port}"]
""")
    yield project, main, mirror, redirects
    main.close()
    mirror.close()


def _lake_files(project: Project) -> list[str]:
    return sorted(str(p.relative_to(project.lake)) for p in project.lake.rglob("*")
                  if p.is_file()) if project.lake.exists() else []


def test_a_redirect_to_an_allowed_location_is_followed_without_credentials_to_other_hosts(
        sites):
    project, main, mirror, redirects = sites
    mirror_url = f"http://localhost:{mirror.port}/RC_2023-01.zst"
    redirects.update({"1": "/go/2/RC_2023-01.zst",  # the same host: credentials kept
                      "2": mirror_url})  # another host: credentials dropped
    project.snoopipe("backfill", f"http://reader:pa55word@127.0.0.1:{main.port}"
                     "/go/1/RC_2023-01.zst", "-s", "python")
    assert project.scalar("SELECT count(*) FROM comments") == 50
    assert [path for path, _ in main.requests] == ["/go/1/RC_2023-01.zst",
                                                   "/go/2/RC_2023-01.zst"]
    assert all(headers.get("Authorization", "").startswith("Basic ")
               for _, headers in main.requests)
    ((path, headers),) = mirror.requests
    assert path == "/RC_2023-01.zst" and "Authorization" not in headers


@pytest.mark.parametrize(("target", "reason"), [
    ("http://127.0.0.1:{mirror}/RC_2023-01.zst?token=s3cr3tT0k", "host '127.0.0.1:{mirror}' is "
     "not in dump_access.allowed_url_hosts"),  # an allowed host, another port
    ("http://169.254.169.254/latest/RC_2023-01.zst", "host '169.254.169.254' is not in"),
    ("file:///etc/passwd", "scheme 'file' is not in dump_access.allowed_url_schemes"),
    ("/go/loop/RC_2023-01.zst", "more than 5 redirects"),
])
def test_a_refused_or_looping_redirect_fails_the_backfill_before_reading_anything(
        sites, target, reason):
    project, main, mirror, redirects = sites
    redirects.update({"1": target.format(mirror=mirror.port), "loop": "/go/loop/RC_2023-01.zst"})
    proc = project.snoopipe("backfill", f"http://reader:pa55word@127.0.0.1:{main.port}"
                            "/go/1/RC_2023-01.zst", "-s", "python", check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "Traceback" not in output
    text = " ".join(output.split())
    assert reason.format(mirror=mirror.port) in text
    if "loop" not in target:
        masked = target.format(mirror=mirror.port).replace("s3cr3tT0k", "***")
        assert (f"redirect from http://reader:***@127.0.0.1:{main.port}/go/1/RC_2023-01.zst "
                f"to {masked} refused") in text
    assert "pa55word" not in output and "s3cr3tT0k" not in output
    stored = project.state_rows("SELECT status, error FROM runs")
    assert [status for status, _ in stored] == ["failed"]
    assert "pa55word" not in stored[0][1] and "s3cr3tT0k" not in stored[0][1]
    assert mirror.requests == []  # a refused location is never connected to
    # a refusal is not retried; a loop is, like any failed download: 1 + 5 hops an attempt
    attempts = 1 + Settings().runner.task_retries
    assert len(main.requests) == (6 * attempts if "loop" in target else 1)
    assert _lake_files(project) == []
