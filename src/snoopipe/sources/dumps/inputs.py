"""Where a dump comes from: a local path, a directory or glob of them, a `file://` URL or
an `http(s)://` URL.

`resolve_inputs` expands directories (every dump file under them, recursively, sorted)
and globs (`RC_2023-*.zst`, `dumps/**/*.zst`, for when no shell expanded them).

`open_input` returns a readable binary stream plus what is known about it before
reading: its name (the last path segment), its size in bytes when the filesystem or the
server says it, and a fixed modification time (for dump lines that carry no
`retrieved_on`). HTTP bodies are streamed with requests, never loaded whole.
Redirects are followed here, not by requests: at most MAX_REDIRECTS hops, each target
checked (`check_url`, the dump_access rule) before it is connected to, and the user
info of the URL given (`user:pw@`) sent only to that URL's own scheme, host and port.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urljoin, urlparse, urlsplit, urlunsplit

from snoopipe.errors import SnoopipeError
from snoopipe.redact import mask_url, redact
from snoopipe.sources.dumps.stream import ByteReader

_DUMP_NAME_RE = re.compile(r"^(R[CS])_(\d{4})-(\d{2})")
# Suffixes of dump files: compression, then the text layout (`RC_2023-01.ndjson.zst`).
COMPRESSION_SUFFIXES = (".zst", ".zstd", ".gz", ".gzip", ".bz2", ".xz")
TEXT_SUFFIXES = (".ndjson", ".jsonl", ".json", ".txt")
# Per-subreddit dumps (the subreddit torrents): `<sub>_comments.zst`, `<sub>_submissions.zst`.
_SUBREDDIT_DUMP_RE = re.compile(r"_(comments|submissions)$", re.IGNORECASE)
_GLOB_CHARS = re.compile(r"[*?\[]")
_SAFE_RE = re.compile(r"[^A-Za-z0-9_.-]+")
HTTP_TIMEOUT = (15, 300)  # connect, read (seconds)
HTTP_CHUNK = 1 << 20
MAX_REDIRECTS = 5  # hops followed from the URL given (browsers allow ~20; dump hosts use 1-2)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

# check_url(url, redirected_from): raises (a SnoopipeError) when `url` may not be read;
# redirected_from is None for the URL given. See access.url_checker.
UrlCheck = Callable[[str, "str | None"], None]


class DumpInputError(SnoopipeError):
    """A dump file or URL cannot be opened."""


@dataclass(frozen=True)
class DumpInput:
    """One dump file named on the command line."""

    location: str  # as resolved: an absolute path or an http(s) URL
    name: str  # file name, e.g. RC_2023-01.zst
    is_url: bool

    @property
    def stem(self) -> str:
        """The file name without its compression and text suffixes."""
        stem = self.name
        for suffixes in (COMPRESSION_SUFFIXES, TEXT_SUFFIXES):
            for suffix in suffixes:
                if stem.lower().endswith(suffix):
                    stem = stem[: -len(suffix)]
                    break
        return stem

    @property
    def dump_id(self) -> str:
        """The file name without compression / NDJSON suffixes, safe in lake keys."""
        stem = _SAFE_RE.sub("_", self.stem).strip("._-") or "dump"
        return stem[:40]

    @property
    def kind(self) -> str | None:
        """posts for RS_ and `<sub>_submissions` files, comments for RC_ and
        `<sub>_comments` files, None when the name does not say."""
        upper = self.name.upper()
        if upper.startswith("RS_"):
            return "posts"
        if upper.startswith("RC_"):
            return "comments"
        match = _SUBREDDIT_DUMP_RE.search(self.stem)
        if match:
            return "comments" if match.group(1).lower() == "comments" else "posts"
        return None

    @property
    def month_end(self) -> datetime | None:
        """For RC_/RS_YYYY-MM files: the first instant after that month (dumps are made later)."""
        match = _DUMP_NAME_RE.match(self.name.upper())
        if not match:
            return None
        year, month = int(match.group(2)), int(match.group(3))
        if not 1 <= month <= 12:
            return None
        return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


def looks_like_dump(path: Path) -> bool:
    """A file found in a directory that is read as a dump: by its suffix or RC_/RS_ name."""
    name = path.name
    if name.startswith("."):
        return False
    lower = name.lower()
    return (lower.endswith(COMPRESSION_SUFFIXES + TEXT_SUFFIXES[:3])
            or bool(_DUMP_NAME_RE.match(name.upper())))


def resolve_inputs(texts: list[str], base_dir: Path | None = None,
                   skip: list[Path] | None = None) -> list[DumpInput]:
    """Every dump file named by FILE_OR_URL arguments: files, URLs, directories, globs.

    A directory stands for the dump files under it (recursively, by name: see
    `looks_like_dump`; hidden files and folders, and the folders in `skip` — the
    pipeline's own data folder — are left out, unless the directory named is inside one
    of them), a glob for the files it matches; both sorted by path. A file named twice is
    read once. Errors (DumpInputError): a path that does not exist, a directory without
    dump files, a glob that matches nothing.
    """
    out: dict[str, DumpInput] = {}
    skipped = [p.resolve() for p in skip or []]
    for text in texts:
        for source in _expand(text, base_dir, skipped):
            out.setdefault(source.location, source)
    return list(out.values())


def _dump_files(folder: Path, skip: list[Path]) -> list[Path]:
    # A skipped folder is left out when it is the folder named or under it; a folder
    # named inside it (the stack's `data/dumps`) is read: the user asked for it.
    root = folder.resolve()
    skip = [s for s in skip if s.is_relative_to(root)]
    found = []
    for path in folder.rglob("*"):
        parts = path.relative_to(folder).parts
        if any(part.startswith(".") for part in parts) or not path.is_file():
            continue
        resolved = path.resolve()
        if any(resolved.is_relative_to(s) for s in skip):
            continue
        if looks_like_dump(path):
            found.append(path)
    return sorted(found)


def _expand(text: str, base_dir: Path | None, skip: list[Path]) -> list[DumpInput]:
    parsed = urlparse(text)
    if parsed.scheme in ("http", "https") or (parsed.scheme and len(parsed.scheme) > 1
                                              and parsed.scheme != "file"):
        return [resolve_input(text, base_dir)]
    path = Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(text).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    if path.is_dir():
        found = _dump_files(path, skip)
        if not found:
            raise DumpInputError(f"no dump files in directory {path} (looked for RC_/RS_ "
                                 "files and " + ", ".join(
                                     COMPRESSION_SUFFIXES + TEXT_SUFFIXES[:3]) + ")")
        return [resolve_input(str(p)) for p in found]
    if not path.exists() and _GLOB_CHARS.search(str(path)):
        anchor = Path(path.anchor)
        pattern = str(path.relative_to(anchor))
        found = sorted(p for p in anchor.glob(pattern) if p.is_file())
        if not found:
            raise DumpInputError(f"no file matches {text!r}")
        return [resolve_input(str(p)) for p in found]
    return [resolve_input(text, base_dir)]


def resolve_input(text: str, base_dir: Path | None = None) -> DumpInput:
    """Parse FILE_OR_URL: a path, file:///path or http(s)://host/path."""
    parsed = urlparse(text)
    if parsed.scheme in ("http", "https"):
        name = unquote(Path(parsed.path).name) or "dump"
        return DumpInput(location=text, name=name, is_url=True)
    if parsed.scheme == "file":
        path = Path(unquote(parsed.path))
    elif parsed.scheme and len(parsed.scheme) > 1:
        raise DumpInputError(f"unsupported dump location {text!r}: use a path, file:// or "
                             "http(s)://")
    else:
        path = Path(text).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    path = path.resolve()
    if path.is_dir():
        raise DumpInputError(f"{path} is a directory, not a dump file (resolve_inputs "
                             "expands directories into their dump files)")
    if not path.is_file():
        raise DumpInputError(f"dump file not found: {path}")
    return DumpInput(location=str(path), name=path.name, is_url=False)


class InputStream(ByteReader, Protocol):
    """An opened dump: read, then closed (a file, or `_HttpStream` over a response)."""

    def close(self) -> None: ...


@dataclass
class OpenedInput:
    stream: InputStream
    size: int | None
    modified: datetime | None

    def close(self) -> None:
        self.stream.close()


class _HttpStream:
    """A file-like view of a streamed HTTP body (requests, no decoding of zstd)."""

    def __init__(self, response, session) -> None:
        self._response = response
        self._session = session
        self._iter = response.iter_content(chunk_size=HTTP_CHUNK)
        self._pending = b""

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            rest = [self._pending, *self._iter]
            self._pending = b""
            return b"".join(rest)
        while len(self._pending) < size:
            try:
                piece = next(self._iter)
            except StopIteration:
                break
            if not self._pending:
                self._pending = piece
            else:
                self._pending += piece
        out, self._pending = self._pending[:size], self._pending[size:]
        return out

    def close(self) -> None:
        self._response.close()
        self._session.close()


def open_input(source: DumpInput, *, check_url: UrlCheck | None = None) -> OpenedInput:
    """Open a dump file, or start streaming a dump URL.

    check_url: applied to the URL and to every redirect target before it is connected to
    (`access.url_checker`); None follows redirects to any http(s) URL. Errors:
    DumpInputError (unreadable file, network error, an HTTP status other than 200, too
    many redirects), whatever check_url raises for a refused redirect. URLs in error
    messages are masked.
    """
    if not source.is_url:
        try:
            fh = open(source.location, "rb")  # noqa: SIM115 - closed by OpenedInput.close
            stat = os.fstat(fh.fileno())
        except OSError as exc:
            raise DumpInputError(f"cannot read dump file {source.location}: "
                                 f"{exc.strerror or exc}") from exc
        return OpenedInput(fh, stat.st_size, datetime.fromtimestamp(int(stat.st_mtime), UTC))
    response, session = _get(source.location, check_url)
    size = response.headers.get("Content-Length")
    modified = None
    if response.headers.get("Last-Modified"):
        try:
            modified = parsedate_to_datetime(response.headers["Last-Modified"]).astimezone(UTC)
        except (TypeError, ValueError):
            modified = None
    return OpenedInput(_HttpStream(response, session),
                       int(size) if size and size.isdigit() else None, modified)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or {"http": 80,
                                                                   "https": 443}.get(scheme)


def _same_site(first: str, target: str) -> bool:
    """Whether the credentials of `first` may go to `target`: same host and port, and
    the same scheme or http -> https (requests' own rule, Session.should_strip_auth)."""
    (s1, h1, p1), (s2, h2, p2) = _origin(first), _origin(target)
    if h1 != h2:
        return False
    return (s1, p1) == (s2, p2) or ((s1, p1), (s2, p2)) == (("http", 80), ("https", 443))


def _without_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """`url` without `user:pw@`, and that (user, password) pair (None when absent)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    netloc = parts.netloc.rpartition("@")[2]
    return (urlunsplit(parts._replace(netloc=netloc)),
            (unquote(parts.username or ""), unquote(parts.password or "")))


def _get(url: str, check_url: UrlCheck | None):
    """GET `url` (streamed), following at most MAX_REDIRECTS redirects, each checked
    before it is connected to: (the 200 response, its body unread; its session)."""
    import requests

    first = url
    auth = _without_userinfo(url)[1]
    if check_url is not None:
        check_url(url, None)
    session = requests.Session()
    session.headers["Accept-Encoding"] = "identity"
    try:
        for hop in range(MAX_REDIRECTS + 1):
            target, hop_auth = _without_userinfo(url)
            if hop_auth is None and auth is not None and _same_site(first, url):
                hop_auth = auth
            try:
                response = session.get(target, stream=True, timeout=HTTP_TIMEOUT,
                                       allow_redirects=False, auth=hop_auth)
            except requests.RequestException as exc:
                raise DumpInputError(f"cannot download {mask_url(url)}: "
                                     f"{redact(str(exc))}") from None
            if response.status_code == 200:
                return response, session
            location = (session.get_redirect_target(response)
                        if response.status_code in _REDIRECT_STATUSES else None)
            response.close()  # the body of a redirect or an error is never read
            if location is None:
                raise DumpInputError(f"cannot download {mask_url(url)}: "
                                     f"HTTP {response.status_code}")
            following = urljoin(url, location)
            try:
                urlsplit(following).port  # noqa: B018 - raises for a port that is no number
            except ValueError:
                raise DumpInputError(f"cannot download {mask_url(first)}: redirected to "
                                     f"{mask_url(following)}, which is not a valid URL") from None
            if hop == MAX_REDIRECTS:
                raise DumpInputError(
                    f"cannot download {mask_url(first)}: more than {MAX_REDIRECTS} redirects "
                    f"(the last to {mask_url(following)}); a redirect loop?")
            if check_url is not None:
                check_url(following, url)
            if urlsplit(following).scheme.lower() not in ("http", "https"):
                raise DumpInputError(f"cannot download {mask_url(first)}: redirected to "
                                     f"{mask_url(following)}, which is not an http(s) URL")
            url = following
    except BaseException:
        session.close()
        raise
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
