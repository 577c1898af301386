"""What a file that gave no usable dump line looks like, from its first bytes.

`describe(head, compression)` -> a short phrase for an error message ("HTML (a web page:
an error or login page saved instead of the dump?)", "a zip archive ...", "binary data",
"gzip data (compressed twice?), once gzip-decompressed", ...). `head` is the start of the
file after decompression; `compression` what it was decompressed from. Magic numbers: the
formats' own specifications (zip APPNOTE, POSIX ustar, ...), as `file(1)` reads them.
"""

from __future__ import annotations

import re

from snoopipe.sources.dumps import compression as codecs

_MAGIC = (  # (offset, bytes, what)
    (0, b"PK\x03\x04", "a zip archive (unzip it, then give the files inside)"),
    (257, b"ustar", "a tar archive (extract it, then give the files inside)"),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive (extract it first)"),
    (0, b"Rar!", "a RAR archive (extract it first)"),
    (0, b"\x04\x22\x4d\x18", "LZ4-compressed data (decompress it first)"),
    (0, b"\x5d\x00\x00", "legacy LZMA data (`unlzma` it, or recompress as .xz)"),
    (0, b"%PDF", "a PDF document"),
    (0, b"\x89PNG", "a PNG image"),
    (0, b"\xff\xd8\xff", "a JPEG image"),
    (0, b"PAR1", "a Parquet file"),
    (0, b"SQLite format 3\x00", "an SQLite database"),
    (0, b"d8:announce", "a .torrent file (the dumps are what it downloads)"),
)
_HTML = re.compile(rb"\s*(<!doctype html|<html|<head|<body|<!--)", re.IGNORECASE)
_XML = re.compile(rb"\s*<\?xml", re.IGNORECASE)


def describe(head: bytes, compression: str | None = None) -> str:
    """A phrase for what `head` (the first decompressed bytes of a file) looks like."""
    inner = _describe(head)
    return f"{inner}, once {compression}-decompressed" if compression else inner


def _describe(head: bytes) -> str:
    if not head.strip():
        return "blank text"
    nested = codecs.detect(head)
    if nested:
        return f"{nested} data (compressed twice?)"
    for offset, magic, what in _MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return what
    if _HTML.match(head):
        return "HTML (a web page: an error or login page saved instead of the dump?)"
    if _XML.match(head):
        return "XML"
    sample = head[:4096]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # not just a sequence cut by the sample's end
            return "binary data (not UTF-8 text)"
        text = sample[:exc.start].decode("utf-8")
    controls = sum(1 for ch in text if ch < " " and ch not in "\t\r\n")
    if controls > len(text) // 100:
        return "binary data"
    first = text.lstrip()[:1]
    if first in ("{", "["):
        return "JSON, but not one Reddit object a line"
    lines = text.splitlines()
    if len(lines) > 1 and all("," in line for line in lines[:-1][:5]):
        return "CSV or other delimited text"
    return "text that is not JSON"
