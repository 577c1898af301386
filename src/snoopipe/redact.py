"""Secrets out of everything snoopipe prints, logs or stores: one masking rule for URLs
of every shape, secret-looking keys, and the secret values the settings hold.

- `mask_url(url)`: one URL (or a URL-like setting) safe to show. Everything between
  `://` and the *last* `@` is the user info (a generated password may hold an unencoded
  `/ ? # @`); the user name is kept, the password becomes `***` (`user:***@`; user info
  without a `:` is a token and becomes `***@`). A URL without a scheme
  (`user:pw@host/db`) is masked the same way. Then the value of every query or
  key=value parameter whose name looks secret (`password`, `sslpassword`, `token`,
  `secret`, `X-Amz-Signature`, `X-Amz-Credential`, `sig`, `api_key`, ...) becomes `***`.
- `redact(text, secrets=())`: free text (error messages, log lines, stored task
  errors): every URL in it masked as above, every `secret-key=value`, and every secret
  value snoopipe was told about with `remember()` (the settings' passwords and keys,
  also URL-encoded) or given as `secrets`, wherever it appears alone. This is the one
  scrubber: a driver's error about a connection is `redact(text, url_secrets(url))`.
- `install_log_redaction()`: every log record's message goes through `redact()`.

Rule from the README: passwords and keys are never printed, logged or stored.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

MASK = "***"
# Remembered secrets shorter than this are not searched for alone (they would mask
# ordinary words); inside a URL or a key=value they are masked whatever their length.
MIN_SECRET_LENGTH = 6

# Parameter names whose values are secrets: any name containing one of these words ...
_SECRET_WORDS = ("passw", "passphrase", "pwd", "token", "secret", "signature", "credential",
                 "apikey", "api_key", "api-key", "accesskey", "access_key", "access-key",
                 "privatekey", "private_key")
# ... or exactly one of these (Azure SAS's signature).
_SECRET_NAMES = frozenset({"sig"})

_SCHEME = r"[A-Za-z][A-Za-z0-9+.-]*://"
# A URL in free text: a scheme, then anything up to whitespace, a quote or a bracket.
_URL_IN_TEXT = re.compile(_SCHEME + r"[^\s'\"<>\[\]()]+")
# A URL without a scheme in free text: name:password@host (the last @ before a space).
_BARE_USERINFO = re.compile(
    r"(?<![\w/:@.%+-])([A-Za-z0-9._%+-]+):(?!//)([^\s'\"<>]+)@(?=[A-Za-z0-9\[])")
# name=value (query string, libpq conninfo, command-line flag); value to & # space quote.
_KEY_VALUE = re.compile(r"(?<![\w.-])([A-Za-z][\w.-]*)(\s*=\s*)('[^']*'|\"[^\"]*\"|[^&#\s'\"]*)")

_lock = threading.Lock()
_known: set[str] = set()


def is_secret_name(name: str) -> bool:
    """Whether a parameter called `name` holds a secret (case-insensitive)."""
    lowered = name.lower()
    return lowered in _SECRET_NAMES or any(word in lowered for word in _SECRET_WORDS)


def _mask_params(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        name, eq, value = match.groups()
        if not value or not is_secret_name(name) or value.startswith(MASK):
            return match.group(0)
        return f"{name}{eq}{MASK}"

    return _KEY_VALUE.sub(repl, text)


# Placeholders in help texts ("use postgresql://user:password@host/db") stay readable.
_PLACEHOLDER_USERINFO = frozenset({"user:password", "user", MASK})


def _mask_userinfo(userinfo: str) -> str:
    if userinfo in _PLACEHOLDER_USERINFO or userinfo.endswith(f":{MASK}"):
        return userinfo
    if ":" in userinfo:
        return f"{userinfo.split(':', 1)[0]}:{MASK}"
    return MASK


def mask_url(url: str | None) -> str:
    """`url` safe to print, log or store: user-info password and secret parameters
    masked (see the module docstring for the shapes). '' for None or ''."""
    if not url:
        return ""
    scheme = re.match(_SCHEME, url)
    start = scheme.end() if scheme else 0
    rest = url[start:]
    at = rest.rfind("@")
    # No user info in scheme:///path (an empty authority) or in a bare path.
    if at >= 0 and not rest.startswith("/") and (scheme or ":" in rest[:at]):
        rest = f"{_mask_userinfo(rest[:at])}@{rest[at + 1:]}"
    return url[:start] + _mask_params(rest)


def remember(*values: str | None) -> None:
    """Secret values to mask wherever `redact()` meets them (also URL-encoded)."""
    with _lock:
        for value in values:
            if value and len(value) >= MIN_SECRET_LENGTH:
                _known.update({value, quote(value, safe=""), quote_plus(value)})


def url_secrets(url: str | None) -> set[str]:
    """The secret values a URL (any shape) holds: its user-info password, as written and
    decoded, and the values of its secret parameters. Scrub a text of one URL's
    secrets with `redact(text, url_secrets(url))`."""
    if not url:
        return set()
    found: set[str] = set()
    scheme = re.match(_SCHEME, url)
    rest = url[scheme.end() if scheme else 0:]
    at = rest.rfind("@")
    if at >= 0 and ":" in rest[:at]:
        password = rest[:at].split(":", 1)[1]
        found.update({password, unquote(password)})
    try:
        query = urlsplit(url).query
    except ValueError:
        query = ""
    found.update(value for name, value in parse_qsl(query) if is_secret_name(name))
    found.update(m.group(3).strip("'\"") for m in _KEY_VALUE.finditer(rest)
                 if is_secret_name(m.group(1)))
    return {value for value in found if value}


def remember_url(url: str | None) -> None:
    """The password and secret parameters of a URL (any shape), for `redact()`."""
    remember(*url_secrets(url))


def redact(text: str | None, secrets: Iterable[str] = ()) -> str:
    """`text` with every URL masked (`mask_url`), every `secret-name=value` masked, and
    every remembered secret (and each of `secrets`) replaced by `***`."""
    if not text:
        return text or ""
    with _lock:
        known = set(_known)
    # A secret named by the caller is masked whatever its length (a short password in
    # its own connection error is still a password); remembered ones need 6 characters.
    known.update(s for s in secrets if s)
    for value in sorted(known, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    text = _URL_IN_TEXT.sub(_mask_url_in_text, text)
    text = _BARE_USERINFO.sub(lambda m: f"{m.group(1)}:{MASK}@", text)
    return _mask_params(text)


def redact_data(value: Any) -> Any:
    """`value` (JSON-like: dicts, lists, strings, numbers) with every string redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(item) for item in value]
    return value


def _mask_url_in_text(match: re.Match[str]) -> str:
    url = match.group(0)
    trailing = len(url) - len(url.rstrip(".,:;!"))  # the sentence's, not the URL's
    return mask_url(url[:len(url) - trailing]) + url[len(url) - trailing:]


class _RedactingRecordFactory:
    """A log record factory whose records carry a redacted message (no args left)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.snoopipe_redacts = True

    def __call__(self, *args, **kwargs) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logging's to report
            return record
        record.msg, record.args = redact(message), None
        return record


def install_log_redaction() -> None:
    """Make every log record of this process pass through `redact()` (idempotent)."""
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "snoopipe_redacts", False):
        logging.setLogRecordFactory(_RedactingRecordFactory(factory))
