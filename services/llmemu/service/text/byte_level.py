"""GPT-2's byte-level alphabet: how a byte-level BPE writes bytes as printable characters."""

from __future__ import annotations

from functools import cache


@cache
def byte_alphabet() -> list[str]:
    """GPT-2's byte-to-printable-character map, in byte order (what ByteLevel uses)."""
    keep = {*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)}
    chars, extra = [], 0
    for b in range(256):
        if b in keep:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


SPACE = byte_alphabet()[ord(" ")]
"""How ByteLevel writes a space: "Ġ"."""
