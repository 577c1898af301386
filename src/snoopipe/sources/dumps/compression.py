"""Decompress a dump as a stream: zstd, gzip, bzip2 or xz, told by magic bytes.

`detect(head)` names the compression of a file from its first bytes (never from its
name: a `.zst` that is really gzip is read as gzip). `decoder(name)` returns an object
whose `feed(data)` yields decompressed pieces and whose `finish()` says whether the input
ended at the end of a stream; every one accepts concatenated streams (pzstd, pigz,
pbzip2, `cat a.xz b.xz`), each piece is bounded (`PIECE_BYTES`, one zstd block), so
memory never grows with the ratio of a piece of input.

Damage: a decoder raises `CorruptInput` with every piece it could decode before the
damage already yielded. zstd input is fed to libzstd one block at a time (the block
headers are read here), so every block decoded before a corrupt one comes out (at
least what `zstd -dc` writes out). gzip, bzip2 and xz have no such framing that can be read without
decoding: their output is kept up to the last `INPUT_STEP` bytes of input before the
damage.

Standard library (zlib, bz2, lzma) and python-zstandard: no decoding of our own.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Iterator

import zstandard

MAX_WINDOW = 2**31  # Pushshift / Arctic Shift dumps use --long=31
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
SKIPPABLE_MAGIC_LOW = 0x184D2A50  # 0x184D2A50 .. 0x184D2A5F, little-endian
GZIP_MAGIC = b"\x1f\x8b"
BZIP2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"
PIECE_BYTES = 1 << 20  # decompressed bytes per piece at most (gzip, bzip2, xz)
INPUT_STEP = 64 << 10  # gzip / bzip2 / xz input fed at a time


class CorruptInput(Exception):  # noqa: N818 - a condition of the input, not a bug
    """The compressed data is damaged; pieces before the damage were yielded."""


def detect(head: bytes) -> str | None:
    """'zstd', 'gzip', 'bzip2', 'xz', or None (not compressed, or not a format we read)."""
    if head[:4] == ZSTD_MAGIC or (len(head) >= 4 and int.from_bytes(head[:4], "little")
                                  & 0xFFFFFFF0 == SKIPPABLE_MAGIC_LOW):
        return "zstd"
    if head[:2] == GZIP_MAGIC:
        return "gzip"
    if head[:3] == BZIP2_MAGIC and head[3:4].isdigit() and head[3:4] != b"0":
        return "bzip2"
    if head[:6] == XZ_MAGIC:
        return "xz"
    return None


def window_size(head: bytes) -> int | None:
    """The zstd window the first frame declares (bytes), None when unknown."""
    try:
        return zstandard.get_frame_parameters(head).window_size
    except zstandard.ZstdError:
        return None


class _ZstdBlocks:
    """Cuts a zstd byte stream where a frame header, a block or a checksum ends.

    `take(avail)` says how many of the next `avail` bytes to feed next; `see(data)`
    tells it those bytes. Zstd format: RFC 8878, sections 3.1.1 (frames) and 3.1.1.2
    (blocks). Input it cannot follow (damage in a header) is fed as it comes: the
    decoder then reports the damage itself.
    """

    def __init__(self) -> None:
        self.state = "frame"  # frame | block | checksum | lost
        self.header = b""  # the start of a header seen so far (when split across reads)
        self.left = 0  # bytes of the current unit still to feed
        self.checksum = False

    def take(self, data: memoryview) -> int:
        avail = len(data)
        if self.state == "lost":
            return avail
        if self.left == 0:
            seen = len(self.header)
            header = self.header + bytes(data[:18])  # 18: the longest frame header
            size = self._unit(header)
            if size is None:
                if self.state == "lost":
                    self.header = b""
                    return avail
                self.header = header  # all of data: fewer bytes than the header needs
                return avail
            self.header = b""
            self.left = size - seen
        n = min(self.left, avail)
        self.left -= n
        return n

    def _unit(self, h: bytes) -> int | None:
        """Size of the unit starting with h, moving to the state after it; None if h is too
        short to tell (or the stream cannot be followed: state 'lost')."""
        if self.state == "frame":
            if len(h) < 4:
                return None
            if h[:4] == ZSTD_MAGIC:
                if len(h) < 5:
                    return None
                fhd = h[4]
                single = (fhd >> 5) & 1
                self.checksum = bool((fhd >> 2) & 1)
                fcs = (1 if single else 0, 2, 4, 8)[fhd >> 6]
                self.state = "block"
                return 5 + (0 if single else 1) + (0, 1, 2, 4)[fhd & 3] + fcs
            if int.from_bytes(h[:4], "little") & 0xFFFFFFF0 == SKIPPABLE_MAGIC_LOW:
                if len(h) < 8:
                    return None
                return 8 + int.from_bytes(h[4:8], "little")
            self.state = "lost"
            return None
        if self.state == "block":
            if len(h) < 3:
                return None
            value = int.from_bytes(h[:3], "little")
            kind, size = (value >> 1) & 3, value >> 3
            if kind == 3:  # reserved: damage
                self.state = "lost"
                return None
            if value & 1:  # the last block of the frame
                self.state = "checksum" if self.checksum else "frame"
            return 3 + (1 if kind == 1 else size)
        self.state = "frame"  # checksum
        return 4


class ZstdDecoder:
    """zstd frames one after another, fed block by block (see the module docstring)."""

    def __init__(self) -> None:
        self._dctx = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW)
        self._new_frame()
        self.in_frame = False
        self.consumed = 0  # input bytes decoded without error (where damage starts)

    def _new_frame(self) -> None:
        self._decoder = self._dctx.decompressobj(write_size=PIECE_BYTES)
        self._blocks = _ZstdBlocks()

    def feed(self, data: bytes) -> Iterator[bytes]:
        view = memoryview(data)
        while view:
            n = self._blocks.take(view)
            try:
                out = self._decoder.decompress(view[:n])
            except zstandard.ZstdError as exc:
                raise CorruptInput(f"corrupt zstd data in the block at byte "
                                   f"{self.consumed:,} ({exc})") from exc
            self.consumed += n
            view = view[n:]
            self.in_frame = True
            if out:
                yield out
            if self._decoder.eof:
                # A frame ended; more may follow (pzstd, concatenated files). Fed exactly,
                # nothing is left over, except when the blocks could not be followed.
                rest = self._decoder.unused_data
                self._new_frame()
                self.in_frame = False
                if rest:
                    self.consumed -= len(rest)
                    view = memoryview(rest + bytes(view))

    def finish(self) -> bool:
        """True when the input ended at the end of a frame."""
        return not self.in_frame


class _StdlibDecoder:
    """gzip / bzip2 / xz through the standard library, concatenated streams included."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._decoder = self._make()
        self.in_stream = False
        self.consumed = 0  # input bytes fed before the piece being decoded

    def _make(self):
        if self.name == "gzip":
            return zlib.decompressobj(wbits=31)
        if self.name == "bzip2":
            return bz2.BZ2Decompressor()
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ)

    def feed(self, data: bytes) -> Iterator[bytes]:
        for at in range(0, len(data), INPUT_STEP):
            yield from self._feed(data[at:at + INPUT_STEP])
            self.consumed += len(data[at:at + INPUT_STEP])

    def _feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            if not self.in_stream:
                data = data.lstrip(b"\0")  # padding between streams (xz, tape blocks)
                if not data:
                    return
            self.in_stream = True
            try:
                yield from self._drain(data)
            except (zlib.error, OSError, EOFError, lzma.LZMAError) as exc:
                raise CorruptInput(f"corrupt {self.name} data within {INPUT_STEP // 1024} KiB "
                                   f"after byte {self.consumed:,} ({exc})") from exc
            if not self._decoder.eof:
                return
            data = self._decoder.unused_data
            self._decoder = self._make()
            self.in_stream = False

    def _drain(self, data: bytes) -> Iterator[bytes]:
        """Decompress data in pieces of at most PIECE_BYTES."""
        dec = self._decoder
        if self.name == "gzip":
            out = dec.decompress(data, PIECE_BYTES)
            while True:
                if out:
                    yield out
                # A full piece may leave output inside zlib with no input left.
                if dec.eof or (not dec.unconsumed_tail and len(out) < PIECE_BYTES):
                    return
                out = dec.decompress(dec.unconsumed_tail, PIECE_BYTES)
        out = dec.decompress(data, max_length=PIECE_BYTES)
        while True:
            if out:
                yield out
            if dec.eof or dec.needs_input:
                return
            out = dec.decompress(b"", max_length=PIECE_BYTES)

    def finish(self) -> bool:
        return not self.in_stream


def decoder(name: str) -> ZstdDecoder | _StdlibDecoder:
    """A streaming decoder for a name from `detect`."""
    return ZstdDecoder() if name == "zstd" else _StdlibDecoder(name)
