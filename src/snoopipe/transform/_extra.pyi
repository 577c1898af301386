"""Types of the C scanner of the `extra` column and the key texts (`_extra.c`, which
documents it)."""

from typing import Any

def extra_column(
    data: Any, offsets: Any, start: int, length: int, validity: Any,
    typed_keys: tuple[bytes, ...] | None, text_keys: tuple[bytes, ...] | None = None,
) -> tuple[Any, ...]: ...
