"""The lake on S3 (`s3://bucket/prefix`), for production and scale-out runs.

Endpoint, region and credentials come from the standard AWS settings, which boto3
resolves itself: `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_S3`, `AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` / `AWS_DEFAULT_REGION`,
`AWS_PROFILE` and the shared config files, instance and container roles. snoopipe
has no S3 credential settings of its own, and never logs credentials or puts them in
`url` or in an error message.

Atomicity: S3 makes an object visible only when its single PUT (or its multipart
upload's Complete) succeeds, so readers see the old object or the new one. `if_absent`
writes are conditional on the server (`If-None-Match: *`), so two writers racing for
one raw file cannot both win and nothing is overwritten.

DuckDB and PyArrow read and write Parquet on this lake without DuckDB's httpfs
extension: `arrow_filesystem()` is a `pyarrow.fs.S3FileSystem` configured like the
boto3 client, and `register_duckdb(con)` registers an fsspec wrapper of it on a DuckDB
connection so that `uri(key)` (`s3://bucket/prefix/key`) works in `COPY ... TO` and
`read_parquet`.
"""

from __future__ import annotations

import io
import os
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit, urlunsplit

import boto3
import botocore.config
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
)

from snoopipe.errors import ConfigError, LakeError
from snoopipe.lake.base import Lake, check_key

if TYPE_CHECKING:
    import duckdb
    import pyarrow.fs

MiB = 1024 * 1024
# Objects larger than this are uploaded in parts (S3 caps a single PUT at 5 GiB).
MULTIPART_THRESHOLD = 64 * MiB
# Part size of multipart uploads; S3 requires at least 5 MiB and at most 10,000 parts.
MULTIPART_CHUNKSIZE = 16 * MiB
_MAX_PARTS = 10_000
# A dropped connection while streaming an object is resumed with a ranged GET this often.
STREAM_RESUMES = 3
# S3 answers 409 ConditionalRequestConflict when conditional writes to one key race.
_CONFLICT_RETRIES = 5

# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
_PREFIX_PART_RE = re.compile(r"^[A-Za-z0-9_.=@:+-]+$")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

_HINTS = {
    "NoSuchBucket": "the bucket does not exist: create it or fix SNOOPIPE_LAKE_URL",
    "NoSuchKey": "no such object",
    "404": "no such object",
    "AccessDenied": "access denied: check the AWS credentials and the bucket policy",
    "403": "access denied: check the AWS credentials and the bucket policy",
    "Forbidden": "access denied: check the AWS credentials and the bucket policy",
    "InvalidAccessKeyId": (
        "the access key is not known to this endpoint: check the AWS credentials"
    ),
    "SignatureDoesNotMatch": (
        "the secret key does not match the access key: check the AWS credentials"
    ),
    "ExpiredToken": "the AWS session token has expired: refresh the credentials",
    "InvalidToken": "the AWS session token is invalid: refresh the credentials",
    "PermanentRedirect": "the bucket is in another region: set AWS_REGION to the bucket's region",
    "AuthorizationHeaderMalformed": (
        "wrong region for this bucket: set AWS_REGION to the bucket's region"
    ),
    "PreconditionFailed": "the object changed while it was being read",
    "SlowDown": "S3 is throttling requests: retry later or raise AWS_MAX_ATTEMPTS",
}


def _safe_endpoint(url: str | None) -> str:
    """scheme://host:port of an endpoint URL: no user info, path or query."""
    if not url:
        return "the default AWS endpoint"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, "", "", ""))
    except ValueError:
        return "the configured endpoint"


def _is_aws_endpoint(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn"))


class S3Lake(Lake):
    """A lake under `s3://bucket/prefix`; keys are relative to the prefix."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        session: boto3.session.Session | None = None,
    ) -> None:
        if not _BUCKET_RE.fullmatch(bucket or "") or ".." in bucket:
            raise ConfigError(
                f"invalid S3 bucket name {bucket!r} in the lake URL: use s3://bucket/prefix"
            )
        prefix = prefix.strip("/")
        if prefix:
            try:
                check_key(prefix)
            except ValueError:
                raise ConfigError(
                    f"invalid S3 lake prefix {prefix!r}: use letters, digits and _.=@:+- "
                    "in /-separated parts"
                ) from None
        self.bucket = bucket
        self.prefix = prefix
        self._root = f"{prefix}/" if prefix else ""
        self.url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        # Attributes, not constants, so tests can exercise parts and pages on small data.
        self.multipart_threshold = MULTIPART_THRESHOLD
        self.multipart_chunksize = MULTIPART_CHUNKSIZE
        self.list_page_size = 1000
        self._session = session
        self._client: Any = None
        self._bucket_checked = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"S3Lake({self.url!r})"

    # Picklable for process pools: the boto3 client is rebuilt on first use.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_client=None, _session=None, _lock=None, _bucket_checked=False)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- boto3 ------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The boto3 S3 client (thread-safe), created on first use from the AWS settings."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    try:
                        self._client = self._boto_session().client(
                            "s3", config=botocore.config.Config(max_pool_connections=32)
                        )
                    except (BotoCoreError, ValueError) as exc:
                        raise self._error("connect to", None, exc) from None
        return self._client

    def _boto_session(self) -> boto3.session.Session:
        """The boto3 session: the one given, else one created on first use."""
        if self._session is None:
            self._session = boto3.session.Session()
        return self._session

    def _full(self, key: str) -> str:
        return self._root + check_key(key)

    def _where(self, key: str | None) -> str:
        return f"s3://{self.bucket}/{self._root}{key}" if key is not None else self.url

    def _error(self, action: str, key: str | None, exc: BaseException) -> LakeError:
        """A LakeError naming the bucket, key and S3 error code, never a credential."""
        where = self._where(key)
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {}) or {}
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = str(err.get("Code") or status or "unknown")
            hint = _HINTS.get(code) or str(err.get("Message") or "")[:200]
            detail = f"S3 error {code}" + (f" (HTTP {status})" if status else "")
            if code == "NoSuchBucket":
                hint = f"bucket {self.bucket!r} does not exist: create it or fix SNOOPIPE_LAKE_URL"
            return LakeError(f"cannot {action} {where}: {detail}" + (f": {hint}" if hint else ""))
        if isinstance(exc, NoCredentialsError):
            return LakeError(
                f"cannot {action} {where}: no AWS credentials found: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run with an instance/container role"
            )
        if isinstance(exc, EndpointConnectionError):
            endpoint = _safe_endpoint(getattr(exc, "kwargs", {}).get("endpoint_url"))
            return LakeError(
                f"cannot {action} {where}: cannot connect to the S3 endpoint {endpoint}: "
                "check AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 and the network"
            )
        if isinstance(exc, BotoCoreError):
            # botocore messages name settings and endpoints, never credential values.
            text = str(exc)
            url = getattr(exc, "kwargs", {}).get("endpoint_url")
            if url:
                text = text.replace(str(url), _safe_endpoint(url))
            return LakeError(f"cannot {action} {where}: {type(exc).__name__}: {text}"[:500])
        # Anything else (botocore's ValueError for a malformed endpoint, ...) may quote a
        # setting verbatim, so only its type is shown.
        return LakeError(
            f"cannot {action} {where}: {type(exc).__name__}: check AWS_ENDPOINT_URL, "
            "AWS_REGION and the AWS config file"
        )

    @staticmethod
    def _status(exc: ClientError) -> int | None:
        return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")

    def _ensure_bucket(self, action: str, key: str | None) -> None:
        """A HEAD 404 cannot tell a missing key from a missing bucket: ask once."""
        if self._bucket_checked:
            return
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if self._status(exc) == 404:
                raise LakeError(
                    f"cannot {action} {self._where(key)}: S3 error NoSuchBucket (HTTP 404): bucket "
                    f"{self.bucket!r} does not exist: create it or fix SNOOPIPE_LAKE_URL"
                ) from None
            raise self._error(action, key, exc) from None
        except BotoCoreError as exc:
            raise self._error(action, key, exc) from None
        self._bucket_checked = True

    # -- Lake -------------------------------------------------------------------------

    def write_bytes(self, key: str, data: bytes, *, if_absent: bool = False) -> bool:
        full = self._full(key)
        try:
            if len(data) > self.multipart_threshold:
                if if_absent:
                    return self._conditional_multipart(full, data)
                self.client.upload_fileobj(
                    io.BytesIO(data), self.bucket, full,
                    Config=TransferConfig(
                        multipart_threshold=self.multipart_threshold,
                        multipart_chunksize=self._part_size(len(data)),
                        max_concurrency=4,
                    ),
                )
                return True
            extra = {"IfNoneMatch": "*"} if if_absent else {}
            return self._put(lambda: self.client.put_object(
                Bucket=self.bucket, Key=full, Body=data, **extra), if_absent=if_absent)
        except (ClientError, BotoCoreError) as exc:
            raise self._error("write", key, exc) from None

    def write_file(self, key: str, path: str) -> None:
        """Upload a local file (multipart beyond the threshold); S3 PUTs are atomic."""
        full = self._full(key)
        try:
            size = os.path.getsize(path)
            self.client.upload_file(path, self.bucket, full, Config=TransferConfig(
                multipart_threshold=self.multipart_threshold,
                multipart_chunksize=self._part_size(size), max_concurrency=4))
        except (ClientError, BotoCoreError) as exc:
            raise self._error("write", key, exc) from None
        except S3UploadFailedError as exc:  # s3transfer wraps the ClientError's text
            raise LakeError(f"cannot write {self._where(key)}: {exc}"[:500]) from None
        except OSError as exc:
            raise LakeError(f"cannot read {path} to upload it to {self._where(key)}: "
                            f"{exc.strerror or exc}") from None

    def _put(self, call: Callable[[], object], *, if_absent: bool) -> bool:
        """Run a PUT (or a multipart Complete): True when written; False when `if_absent`
        and the key exists (412). A 409 (a concurrent write to the key) is retried."""
        for attempt in range(_CONFLICT_RETRIES + 1):
            try:
                call()
                return True
            except ClientError as exc:
                if if_absent and self._status(exc) == 412:
                    return False
                if self._status(exc) == 409 and attempt < _CONFLICT_RETRIES:
                    time.sleep(0.05 * 2**attempt)
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _part_size(self, size: int) -> int:
        return max(self.multipart_chunksize, -(-size // _MAX_PARTS))

    def _conditional_multipart(self, full: str, data: bytes) -> bool:
        """A multipart upload whose Complete is conditional on the key being absent."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=full)
            return False  # early exit before uploading; the conditional Complete is what is safe
        except ClientError:
            pass  # 404, or 403 without s3:ListBucket: upload and let the Complete decide
        upload_id = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=full, ChecksumAlgorithm="CRC32"
        )["UploadId"]
        try:
            view = memoryview(data)
            step = self._part_size(len(data))
            parts = []
            for number, offset in enumerate(range(0, len(data), step), start=1):
                reply = self.client.upload_part(
                    Bucket=self.bucket, Key=full, UploadId=upload_id, PartNumber=number,
                    Body=bytes(view[offset:offset + step]), ChecksumAlgorithm="CRC32",
                )
                part = {"PartNumber": number, "ETag": reply["ETag"]}
                if reply.get("ChecksumCRC32"):
                    part["ChecksumCRC32"] = reply["ChecksumCRC32"]
                parts.append(part)
            completed = self._put(lambda: self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=full, UploadId=upload_id,
                MultipartUpload={"Parts": parts}, IfNoneMatch="*",
            ), if_absent=True)
            if completed:
                upload_id = None  # nothing to abort
            return completed
        finally:
            if upload_id is not None:
                try:
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=full, UploadId=upload_id
                    )
                except (ClientError, BotoCoreError):
                    pass  # a bucket lifecycle rule should expire abandoned uploads

    def read_bytes(self, key: str) -> bytes:
        full = self._full(key)
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=full)
            with reply["Body"] as body:
                return body.read()
        except (ClientError, BotoCoreError) as exc:
            raise self._error("read", key, exc) from None

    def open_read(self, key: str) -> BinaryIO:
        full = self._full(key)
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=full)
        except (ClientError, BotoCoreError) as exc:
            raise self._error("read", key, exc) from None
        raw = _S3RawReader(self, key, full, reply)
        return io.BufferedReader(raw, buffer_size=1 * MiB)

    def exists(self, key: str) -> bool:
        full = self._full(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=full)
            return True
        except ClientError as exc:
            if self._status(exc) == 404:
                self._ensure_bucket("check", key)
                return False
            raise self._error("check", key, exc) from None
        except BotoCoreError as exc:
            raise self._error("check", key, exc) from None

    def size(self, key: str) -> int:
        full = self._full(key)
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=full)["ContentLength"])
        except ClientError as exc:
            if self._status(exc) == 404:
                self._ensure_bucket("stat", key)
            raise self._error("stat", key, exc) from None
        except BotoCoreError as exc:
            raise self._error("stat", key, exc) from None

    def list(self, prefix: str) -> list[str]:
        _check_prefix(prefix)
        keys = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._root + prefix,
                PaginationConfig={"PageSize": self.list_page_size},
            )
            for page in pages:
                for item in page.get("Contents", ()):
                    key = item["Key"][len(self._root):]
                    # Skip folder markers ("a/b/") that S3 consoles and pyarrow create.
                    if key and not key.endswith("/"):
                        keys.append(key)
        except (ClientError, BotoCoreError) as exc:
            raise self._error("list", prefix, exc) from None
        return sorted(keys)

    def delete(self, key: str) -> None:
        full = self._full(key)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=full)
        except (ClientError, BotoCoreError) as exc:
            raise self._error("delete", key, exc) from None

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._full(key)}"

    # -- DuckDB and Arrow -------------------------------------------------------------

    def arrow_filesystem(self) -> tuple[pyarrow.fs.S3FileSystem, str]:
        """(a pyarrow S3FileSystem using boto3's endpoint, region and credentials, "bucket/prefix").

        Credentials are the ones boto3 resolves now, frozen: temporary credentials
        (assumed roles, SSO) are not refreshed by pyarrow, so build a new filesystem
        for a job that outlives them.
        """
        from pyarrow import fs as pafs

        client = self.client
        kwargs: dict[str, Any] = {"region": client.meta.region_name or "us-east-1"}
        endpoint = client.meta.endpoint_url
        if endpoint and not _is_aws_endpoint(endpoint):
            parts = urlsplit(endpoint)
            host = parts.hostname or ""
            kwargs["endpoint_override"] = f"{host}:{parts.port}" if parts.port else host
            kwargs["scheme"] = parts.scheme or "https"
        try:
            credentials = self._boto_session().get_credentials()
            frozen = credentials.get_frozen_credentials() if credentials else None
        except BotoCoreError as exc:
            raise self._error("open", None, exc) from None
        if frozen is not None and frozen.access_key:
            kwargs.update(access_key=frozen.access_key, secret_key=frozen.secret_key,
                          session_token=frozen.token)
        return pafs.S3FileSystem(**kwargs), f"{self.bucket}/{self.prefix}".rstrip("/")

    def fsspec_filesystem(self) -> Any:
        """An fsspec filesystem (protocol `s3`) over `arrow_filesystem()`, for DuckDB.

        Paths are `bucket/key` or `s3://bucket/key`, as `uri()` returns them.
        """
        fs, _root = self.arrow_filesystem()
        return _wrapper_class()(fs)

    def register_duckdb(self, con: duckdb.DuckDBPyConnection) -> None:
        """Make `uri(key)` readable and writable by `con` (COPY TO, read_parquet, globs).

        Replaces any `s3` filesystem already registered on the connection: one set of
        S3 credentials per connection. Needs no DuckDB extension.
        """
        if "s3" in con.list_filesystems():
            con.unregister_filesystem("s3")
        con.register_filesystem(self.fsspec_filesystem())


def _check_prefix(prefix: str) -> None:
    """A list prefix: whole key parts, then an optional partial part or a trailing `/`."""
    if not prefix:
        return
    *whole, last = prefix.split("/")
    if whole:
        check_key("/".join(whole))
    if last in (".", "..") or (last and not _PREFIX_PART_RE.fullmatch(last)):
        raise ValueError(f"invalid lake prefix: {prefix!r}")


_WRAPPER: type | None = None


def _wrapper_class() -> type:
    """fsspec's ArrowFSWrapper, with the fsspec-standard `ls(detail=True)` default.

    ArrowFSWrapper.ls defaults to detail=False, but DuckDB calls `ls(path)` and expects
    the detailed entries (COPY ... (OVERWRITE) fails with a TypeError otherwise).
    """
    global _WRAPPER
    if _WRAPPER is None:
        from fsspec.implementations.arrow import ArrowFSWrapper

        class S3ArrowFSWrapper(ArrowFSWrapper):
            cachable = False  # one instance per lake: never share credentials by cache

            def ls(self, path: str, detail: bool = True, **kwargs: Any) -> Any:
                return super().ls(path, detail=detail, **kwargs)

        _WRAPPER = S3ArrowFSWrapper
    return _WRAPPER


class _S3RawReader(io.RawIOBase):
    """A GetObject body as a raw stream; a dropped connection resumes with a ranged GET."""

    def __init__(self, lake: S3Lake, key: str, full: str, reply: dict[str, Any]) -> None:
        super().__init__()
        self._lake = lake
        self._key = key
        self._full = full
        self._body = reply["Body"]
        self._etag = reply.get("ETag")
        self._size = int(reply.get("ContentLength") or 0)
        self._pos = 0
        self._resumes = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        """Bytes received from S3 so far."""
        return self._pos

    def readinto(self, buffer: Any) -> int:
        while True:
            try:
                count = self._body.readinto(buffer)
            except BotoCoreError as exc:
                if self._pos >= self._size or self._resumes >= STREAM_RESUMES:
                    raise self._lake._error("read", self._key, exc) from None
                self._resume()
                continue
            self._pos += count
            return count

    def _resume(self) -> None:
        self._resumes += 1
        try:
            self._body.close()
        except Exception:  # noqa: BLE001 - the old connection is gone anyway
            pass
        extra = {"IfMatch": self._etag} if self._etag else {}
        try:
            reply = self._lake.client.get_object(
                Bucket=self._lake.bucket, Key=self._full, Range=f"bytes={self._pos}-", **extra
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._lake._error("read", self._key, exc) from None
        self._body = reply["Body"]

    def close(self) -> None:
        if not self.closed:
            try:
                self._body.close()
            finally:
                super().close()
