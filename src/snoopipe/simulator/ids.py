"""Stable hashing, base36 and keyed bijections for the simulator's ids.

Nothing here uses Python's randomised ``hash()`` or global random state, so the
same seed gives the same ids and items in every process.
"""

from __future__ import annotations

import hashlib

M64 = (1 << 64) - 1
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def mix64(x: int) -> int:
    """splitmix64 finaliser: a fast, well-mixed 64-bit integer hash."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def hash_ints(*parts: int) -> int:
    """Combine integers into one 64-bit hash (order-sensitive)."""
    h = 0x51ED27A3C0FFEE11
    for p in parts:
        h = mix64(h ^ (p & M64))
    return h


def hash_str(text: str) -> int:
    """64-bit hash of a string, stable across processes."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def to_base36(n: int) -> str:
    if n < 0:
        raise ValueError("negative")
    if n == 0:
        return "0"
    out = []
    while n:
        n, r = divmod(n, 36)
        out.append(_B36[r])
    return "".join(reversed(out))


def from_base36(text: str) -> int | None:
    if not text or len(text) > 13:
        return None
    try:
        return int(text, 36) if text.isalnum() and text.isascii() and text == text.lower() else None
    except ValueError:
        return None


class KeyedPermutation:
    """A keyed bijection on ``[0, 2**bits)``: a 4-round Feistel network with cycle walking.

    Used to turn (subreddit, index) numbers into ids that look random and are not
    ordered by time, while staying unique and decodable.
    """

    ROUNDS = 4

    def __init__(self, bits: int, key: int) -> None:
        self.bits = bits
        self.limit = 1 << bits
        self.half = (bits + 1) // 2
        self.mask = (1 << self.half) - 1
        self.keys = [hash_ints(key, bits, r) for r in range(self.ROUNDS)]

    def _f(self, r: int, x: int) -> int:
        return mix64(self.keys[r] ^ x) & self.mask

    def _enc(self, x: int) -> int:
        left, right = x >> self.half, x & self.mask
        for r in range(self.ROUNDS):
            left, right = right, left ^ self._f(r, right)
        return (left << self.half) | right

    def _dec(self, y: int) -> int:
        left, right = y >> self.half, y & self.mask
        for r in reversed(range(self.ROUNDS)):
            left, right = right ^ self._f(r, left), left
        return (left << self.half) | right

    def forward(self, n: int) -> int:
        if not 0 <= n < self.limit:
            raise ValueError(f"{n} out of range for {self.bits} bits")
        x = self._enc(n)
        while x >= self.limit:  # cycle walking keeps it a bijection on [0, limit)
            x = self._enc(x)
        return x

    def inverse(self, y: int) -> int:
        if not 0 <= y < self.limit:
            raise ValueError(f"{y} out of range for {self.bits} bits")
        x = self._dec(y)
        while x >= self.limit:
            x = self._dec(x)
        return x
