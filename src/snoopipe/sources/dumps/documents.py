"""JSON documents read as dump lines: a JSON array of things, or an API response file.

Dumps are NDJSON, one thing a line. People also have things as one JSON document:

- a JSON array `[{...}, {...}]` (exports, `json.dump(list_of_things)`), pretty-printed
  or not, several arrays one after another included;
- a Pushshift / Arctic Shift API response saved to a file: `{"data": [{...}, ...],
  "metadata": {...}}` (the things are the elements of its `data` array).

`layout(head)` tells which (from the first non-blank bytes of the decompressed stream).
`to_lines(pieces, kind)` turns such a document, as a stream of byte pieces, into NDJSON
pieces, one element a line, so that everything after it (blocks, the selector, the raw
zone, checkpoints) works as for any dump. It scans the bytes as they come, in bounded
memory (an element is never held whole): it finds where each element starts and ends
(strings, brackets, commas) and copies its bytes exactly, except raw line breaks, which
NDJSON cannot hold: a space outside strings (JSON whitespace), the escape `\\n` / `\\r`
inside one (where a raw break is not valid JSON, but meant one). Whether an element is
valid JSON and a Reddit thing is decided afterwards, element by element, by the same
checks as dump lines (a bad element is quarantined, the others land): unlike a JSON
parser (ijson), one bad element does not stop the rest of the file. The line number
of an element (`source_line`) is its position in the array, from 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import orjson

NDJSON, ARRAY, API_RESPONSE = "NDJSON", "JSON array", "API response"
_BOM = b"\xef\xbb\xbf"
_API_RE = re.compile(rb'\s*\{\s*"(?:data|metadata)"\s*:')
# Outside strings: the next byte that matters. Inside: the end of the string, an escape,
# or a raw line break.
_OUTSIDE = re.compile(rb'["\[\]{},\r\n]')
_INSIDE = re.compile(rb'["\\\r\n]')
# A run of bytes that are neither brackets nor raw line breaks, with whole strings (that
# hold no raw line break) in it: one match for most of an element.
_RUN = re.compile(rb'(?:[^"\[\]{}\r\n]++|"[^"\\\r\n]*+(?:\\[^\r\n][^"\\\r\n]*+)*+")*+')
_BLANK = re.compile(rb"[^ \t\r\n]")
_BREAKS = (0x0A, 0x0D)
_BREAKS_TO_SPACES = bytes.maketrans(b"\r\n", b"  ")
_AFTER_DOCUMENT = "unexpected content after document"  # orjson's message
_ELEMENT_ENDS = b",]"
_FAST_WINDOW = 64 << 10
_KEY_BYTES = 64  # how much of a top-level key of an API response is kept to compare


def layout(head: bytes) -> str:
    """NDJSON, ARRAY or API_RESPONSE from the first bytes of a decompressed dump."""
    text = head[len(_BOM):] if head.startswith(_BOM) else head
    stripped = text.lstrip()
    if stripped.startswith(b"["):
        return ARRAY
    if _API_RE.match(text):
        # `{"data": ...` as the first key of the first line: a thing never has a `data`
        # field (Reddit's listings wrap things in `{"kind": ..., "data": {...}}`, whose
        # `data` is an object, and whose first key is `kind`).
        return API_RESPONSE
    return NDJSON


class _Scanner:
    """The state of the scan between pieces."""

    def __init__(self, target: int, key: bytes | None) -> None:
        self.depth = 0  # brackets and braces open
        self.target = target  # depth inside the array whose elements are lines (1 or 2)
        self.key = key  # the key of that array in a top-level object (API: b"data")
        self.in_array = False  # inside the wanted array
        self.in_element = False
        self.in_string = False
        self.escape = False  # the previous piece ended with a backslash inside a string
        self.last_key = bytearray()  # the last string at depth 1 of an API response
        self.string_at_1 = False
        self.done = False  # the API response's data array ended: ignore the rest


def to_lines(pieces: Iterator[bytes], kind: str) -> Iterator[bytes]:
    """NDJSON pieces (one element + b"\\n" a line) from the pieces of a JSON document."""
    scan = _Scanner(target=1 if kind == ARRAY else 2, key=None if kind == ARRAY else b"data")
    first = True
    for piece in pieces:
        if first and piece:
            first = False
            if piece.startswith(_BOM):
                piece = piece[len(_BOM):]
        out = _scan(scan, piece)
        if out:
            yield out
    if scan.in_element:
        yield b"\n"  # a document cut inside an element: the element is a (bad) line


def _whole_object(data: bytes, start: int) -> int | None:
    """Where the object element starting at data[start] ends (after its `}`), when it is
    valid JSON followed by `,` or `]` in this piece; else None (the byte scan then finds
    its end).

    orjson (C) parses the element and stops at the content after it ("unexpected content
    after document", at that position). It reads at most `_FAST_WINDOW` bytes: a longer
    element, an invalid one, or one orjson refuses (a lone surrogate) takes the scan.
    """
    stop = start + _FAST_WINDOW
    while stop < len(data) and data[stop] & 0xC0 == 0x80:
        stop -= 1  # not inside a UTF-8 sequence: orjson would refuse the whole window
    window = memoryview(data)[start:stop]
    try:
        orjson.loads(window)
    except orjson.JSONDecodeError as exc:
        if exc.msg != _AFTER_DOCUMENT:
            return None
        # exc.pos counts characters (the first one after the element and its blanks);
        # the window is valid UTF-8 (orjson checks that first), and p characters take at
        # most 4p bytes.
        chars = exc.pos
        size = chars
        if not data[start:start + chars].isascii():
            size = len(data[start:start + 4 * chars].decode("utf-8", "ignore")[:chars]
                       .encode())
        end = start + size
        if end >= len(data) or data[end] not in _ELEMENT_ENDS:
            return None
        element = data[start:end].rstrip(b" \t\r\n")
        return start + len(element) if element.endswith(b"}") else None
    return None  # the piece (or the window) ends with the element: no `,` or `]` seen


def _scan(s: _Scanner, data: bytes) -> bytes:
    out: list[bytes] = []
    i, n = 0, len(data)
    start = 0  # where the bytes being copied start (when in an element)
    while i < n:
        if s.in_string:
            if s.escape:
                s.escape = False
                if data[i] not in _BREAKS:
                    i += 1
                continue
            m = _INSIDE.search(data, i)
            if m is None:
                if s.string_at_1 and len(s.last_key) < _KEY_BYTES:
                    s.last_key += data[i:n][:_KEY_BYTES]
                break
            j = m.start()
            c = data[j]
            if s.string_at_1 and len(s.last_key) < _KEY_BYTES:
                s.last_key += data[i:j][:_KEY_BYTES]
            if c == 0x22:  # "
                s.in_string = False
                s.string_at_1 = False
                i = j + 1
            elif c == 0x5C:  # backslash
                if j + 1 < n:
                    i = j + 2 if data[j + 1] not in _BREAKS else j + 1
                else:
                    s.escape = True
                    i = n
            else:  # a raw line break inside a string
                if s.in_element:
                    out.append(data[start:j])
                    out.append(b"\\n" if c == 0x0A else b"\\r")
                    start = j + 1
                i = j + 1
            continue
        if s.in_array and not s.in_element:
            # Between elements: skip blanks and commas; `]` ends the array.
            m = _BLANK.search(data, i)
            if m is None:
                break
            j = m.start()
            c = data[j]
            if c == 0x2C:  # ,
                i = j + 1
                continue
            if c == 0x5D:  # ]
                s.in_array = False
                s.depth -= 1
                if s.key is not None:
                    s.done = True
                i = j + 1
                continue
            if c == 0x7B:  # {: most likely a whole valid object, found fast (in C)
                end = _whole_object(data, j)
                if end:
                    element = data[j:end]
                    if b"\n" in element or b"\r" in element:
                        element = element.translate(_BREAKS_TO_SPACES)
                    out.append(element)
                    out.append(b"\n")
                    i = end
                    continue
            s.in_element = True
            start = i = j
            continue
        if s.in_element and s.depth > s.target:
            # Inside an object or array element: skip, in C, everything up to the next
            # bracket, raw line break or string that does not end in this piece.
            run = _RUN.match(data, i)
            assert run is not None  # _RUN matches the empty string at worst
            i = run.end()
            if i >= n:
                break
        m = _OUTSIDE.search(data, i)
        if m is None:
            break
        j = m.start()
        c = data[j]
        i = j + 1
        if c == 0x22:  # "
            s.in_string = True
            if s.key is not None and s.depth == 1 and not s.done:
                s.string_at_1 = True
                s.last_key = bytearray()
        elif c in (0x5B, 0x7B):  # [ {
            s.depth += 1
            if (c == 0x5B and not s.in_element and not s.done and s.depth == s.target
                    and (s.key is None or bytes(s.last_key) == s.key)):
                s.in_array = True
        elif c in (0x5D, 0x7D):  # ] }
            s.depth -= 1
            if s.in_element and s.depth == s.target:
                # An element that is an object or an array ended.
                out.append(data[start:i])
                out.append(b"\n")
                s.in_element = False
                continue
            if s.in_element and s.depth < s.target:
                # `]` right after a scalar element: the element ends before it.
                out.append(data[start:j])
                out.append(b"\n")
                s.in_element = False
                s.in_array = False
                if s.key is not None:
                    s.done = True
                continue
            if s.depth < 0:
                s.depth = 0
        elif c == 0x2C:  # ,
            if s.in_element and s.depth == s.target:
                out.append(data[start:j])  # a scalar element ended
                out.append(b"\n")
                s.in_element = False
        else:  # a raw line break outside strings
            if s.in_element:
                out.append(data[start:j])
                out.append(b" ")
                start = i
    if s.in_element:
        out.append(data[start:n])
    return b"".join(out)
