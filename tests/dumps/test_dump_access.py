"""Which dump files and URLs a backfill reads: settings.dump_access, strict for the DAG."""

from __future__ import annotations


import pytest

from snoopipe.errors import ConfigError
from snoopipe.orchestration.airflow.tasks import check_dump_files
from snoopipe.settings import DumpAccessSettings, Settings
from snoopipe.sources.dumps import resolve_input
from snoopipe.sources.dumps.access import DumpAccessError, check_dump_access
from tests.dumps.conftest import comment, write_dump


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
