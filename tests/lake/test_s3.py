"""S3Lake against moto's server over loopback HTTP: URLs, conditional and multipart writes,
resumed streams, and the errors a user sees."""

from __future__ import annotations

import pickle
import socket

import pytest
from botocore.exceptions import ResponseStreamingError

from snoopipe.errors import ConfigError, LakeError
from snoopipe.lake import open_lake
from snoopipe.lake.s3 import MiB, S3Lake
from snoopipe.settings import Settings
from tests.fixtures.moto_s3 import DUMMY_SECRET, s3_client


def _bucket(url: str) -> str:
    return url[len("s3://"):].split("/", 1)[0]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- URLs ---------------------------------------------------------------------------------

def test_open_lake_parses_s3_urls():
    lake = open_lake(Settings(lake_url="s3://my-bucket/some/prefix/"))
    assert isinstance(lake, S3Lake)
    assert (lake.bucket, lake.prefix, lake.url) == ("my-bucket", "some/prefix", "s3://my-bucket/some/prefix")
    assert lake.uri("raw/x.jsonl.zst") == "s3://my-bucket/some/prefix/raw/x.jsonl.zst"
    root = open_lake(Settings(lake_url="s3://my-bucket"))
    assert (root.prefix, root.url, root.uri("a/b")) == ("", "s3://my-bucket", "s3://my-bucket/a/b")


def test_open_lake_rejects_credentials_in_url_without_echoing_them():
    with pytest.raises(ConfigError) as info:
        open_lake(Settings(lake_url="s3://AKIDEXAMPLE:wJalrXUtnFEMI@bucket/lake"))
    assert "wJalrXUtnFEMI" not in str(info.value)
    assert "AWS_" in str(info.value)


@pytest.mark.parametrize("url", [
    "s3://Bad_Bucket/lake", "s3:///lake", "s3://ab/lake", "s3://bucket/a/../b",
    "s3://bucket/lake?region=eu-west-1", "s3://bucket/has space",
])
def test_open_lake_rejects_bad_s3_urls(url):
    with pytest.raises(ConfigError):
        open_lake(Settings(lake_url=url))


def test_no_secret_in_url_repr_or_pickle(s3_lake):
    s3_lake.write_bytes("a", b"x")  # the client exists now
    assert DUMMY_SECRET not in s3_lake.url + repr(s3_lake)
    state = pickle.dumps(s3_lake)
    assert DUMMY_SECRET.encode() not in state
    clone = pickle.loads(state)
    assert clone.read_bytes("a") == b"x"


# -- keys and prefixes -------------------------------------------------------------------

def test_keys_are_relative_to_the_prefix(s3_env, s3_lake, moto_server):
    client = s3_client(moto_server)
    bucket = _bucket(s3_env)
    for key in ["outside", "lake2/x", "lakefile", "lake/raw/", "lake/raw/posts/"]:
        client.put_object(Bucket=bucket, Key=key, Body=b"")  # foreign objects, folder markers
    s3_lake.write_bytes("raw/posts/a", b"1")
    assert s3_lake.list("") == ["raw/posts/a"]
    assert s3_lake.list("raw/") == ["raw/posts/a"]
    client.head_object(Bucket=bucket, Key="lake/raw/posts/a")

    whole = S3Lake(bucket)
    assert whole.list("") == ["lake/raw/posts/a", "lake2/x", "lakefile", "outside"]
    assert whole.read_bytes("lake/raw/posts/a") == b"1"


def test_list_paginates(s3_lake):
    s3_lake.list_page_size = 4
    calls = _record_calls(s3_lake)
    keys = [f"many/k{i:02d}" for i in range(23)]
    for key in reversed(keys):
        s3_lake.write_bytes(key, b"")
    assert s3_lake.list("many/") == keys
    assert [name for name, _ in calls].count("ListObjectsV2") == 6


def test_list_rejects_escaping_prefixes(s3_lake):
    for prefix in ["../", "/raw", "a/../", "raw//x", ".."]:
        with pytest.raises(ValueError):
            s3_lake.list(prefix)


# -- conditional and multipart writes ----------------------------------------------------

def _record_calls(lake: S3Lake) -> list[tuple[str, str | None]]:
    calls: list[tuple[str, str | None]] = []

    def before_call(params, model, **_kwargs):
        calls.append((model.name, params.get("headers", {}).get("If-None-Match")))

    lake.client.meta.events.register("before-call.s3", before_call)
    return calls


def test_if_absent_is_a_conditional_put(s3_lake, s3_env, moto_server):
    calls = _record_calls(s3_lake)
    assert s3_lake.write_bytes("raw/a", b"one", if_absent=True) is True
    assert s3_lake.write_bytes("raw/a", b"two", if_absent=True) is False
    # No HEAD-then-PUT: the server decides, so racing writers cannot both win.
    assert calls == [("PutObject", "*"), ("PutObject", "*")]
    assert s3_lake.read_bytes("raw/a") == b"one"

    # Another writer's object, written behind the lake's back, is kept as well.
    s3_client(moto_server).put_object(Bucket=_bucket(s3_env), Key="lake/raw/b", Body=b"theirs")
    assert s3_lake.write_bytes("raw/b", b"mine", if_absent=True) is False
    assert s3_lake.read_bytes("raw/b") == b"theirs"


@pytest.fixture
def small_parts(s3_lake):
    s3_lake.multipart_threshold = 6 * MiB
    s3_lake.multipart_chunksize = 5 * MiB
    return s3_lake


def _etag(lake: S3Lake, key: str) -> str:
    return lake.client.head_object(Bucket=lake.bucket, Key=f"lake/{key}")["ETag"]


def test_large_objects_upload_in_parts(small_parts, moto_server):
    lake = small_parts
    first, second = b"a" * (13 * MiB), b"b" * (13 * MiB)
    assert lake.write_bytes("p/big", first) is True
    assert _etag(lake, "p/big").endswith('-3"')  # a multipart ETag: 3 parts
    assert lake.read_bytes("p/big") == first
    assert lake.write_bytes("p/big", second) is True
    assert lake.read_bytes("p/big") == second
    assert lake.size("p/big") == 13 * MiB


def test_large_if_absent_is_a_conditional_multipart_complete(small_parts, s3_env, moto_server):
    lake = small_parts
    data = bytes(range(256)) * (13 * MiB // 256)
    calls = _record_calls(lake)
    assert lake.write_bytes("raw/big", data, if_absent=True) is True
    assert ("CompleteMultipartUpload", "*") in calls
    assert _etag(lake, "raw/big").endswith('-3"')
    assert lake.read_bytes("raw/big") == data
    assert lake.write_bytes("raw/big", b"x" * (7 * MiB), if_absent=True) is False
    assert lake.read_bytes("raw/big") == data

    # Another writer wins between our upload's start and its Complete: the server refuses
    # the Complete, the lake reports False, and the abandoned upload is aborted.
    client = s3_client(moto_server)
    bucket = _bucket(s3_env)

    def sneak_in(**_kwargs):
        client.put_object(Bucket=bucket, Key="lake/raw/race", Body=b"theirs")

    lake.client.meta.events.register("before-call.s3.CompleteMultipartUpload", sneak_in)
    assert lake.write_bytes("raw/race", data, if_absent=True) is False
    assert lake.read_bytes("raw/race") == b"theirs"
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


# -- streaming reads ---------------------------------------------------------------------

class _BreakingBody:
    """A body whose connection drops after `good` more bytes."""

    def __init__(self, body, good: int):
        self._body, self._good = body, good

    def readinto(self, buffer):
        if self._good <= 0:
            raise ResponseStreamingError(error="connection reset by peer")
        view = memoryview(buffer)[: self._good]
        count = self._body.readinto(view)
        self._good -= count
        return count

    def close(self):
        self._body.close()


def test_open_read_resumes_after_a_dropped_connection(s3_lake):
    data = bytes(range(256)) * (12 * 1024)  # 3 MiB
    s3_lake.write_bytes("raw/x", data)
    with s3_lake.open_read("raw/x") as fh:
        head = fh.read(MiB)
        fh.raw._body = _BreakingBody(fh.raw._body, 300_000)
        rest = fh.read()
    assert head + rest == data


def test_open_read_fails_when_the_object_changes_mid_stream(s3_lake):
    s3_lake.write_bytes("p/x", b"a" * (3 * MiB))
    with s3_lake.open_read("p/x") as fh:
        fh.read(MiB)
        s3_lake.write_bytes("p/x", b"b" * (3 * MiB))
        fh.raw._body = _BreakingBody(fh.raw._body, 0)
        with pytest.raises(LakeError, match="PreconditionFailed"):
            fh.read()


# -- errors ------------------------------------------------------------------------------

def test_missing_bucket_is_a_clear_lake_error(s3_env):
    lake = S3Lake("snoopipe-no-such-bucket", "lake")
    calls = [
        lambda: lake.write_bytes("raw/a", b"x"),
        lambda: lake.write_bytes("raw/a", b"x", if_absent=True),
        lambda: lake.read_bytes("raw/a"),
        lambda: lake.open_read("raw/a"),
        lambda: lake.exists("raw/a"),
        lambda: lake.size("raw/a"),
        lambda: lake.list("raw/"),
        lambda: lake.delete("raw/a"),
    ]
    for call in calls:
        with pytest.raises(LakeError) as info:
            call()
        message = str(info.value)
        assert "s3://snoopipe-no-such-bucket/lake/raw/" in message
        assert "NoSuchBucket" in message and "does not exist" in message
        assert DUMMY_SECRET not in message


def test_unreachable_endpoint_is_a_clear_lake_error(s3_env, monkeypatch):
    port = _free_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://someone:pw-secret@127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    lake = open_lake(Settings(lake_url=s3_env))
    with pytest.raises(LakeError) as info:
        lake.read_bytes("raw/a")
    message = str(info.value)
    assert f"cannot connect to the S3 endpoint http://127.0.0.1:{port}:" in message
    assert "AWS_ENDPOINT_URL" in message
    assert "pw-secret" not in message and DUMMY_SECRET not in message


def test_missing_credentials_is_a_clear_lake_error(s3_env, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    lake = open_lake(Settings(lake_url=s3_env))
    with pytest.raises(LakeError, match="no AWS credentials found"):
        lake.write_bytes("raw/a", b"x")


def test_malformed_endpoint_is_a_lake_error_without_echo(s3_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "not a url pw-secret")
    lake = open_lake(Settings(lake_url=s3_env))
    with pytest.raises(LakeError) as info:
        lake.exists("raw/a")
    assert "pw-secret" not in str(info.value)
    assert "AWS_ENDPOINT_URL" in str(info.value)
