"""Where llmemu keeps what it derives once and reuses (the converted tokenizer, NanoFlow
pipeline searches): `$LLMEMU_CACHE_DIR`, else `$XDG_CACHE_HOME/llmemu`, else ~/.cache/llmemu.
A cache that cannot be written is skipped: everything in it can be derived again."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    if os.environ.get("LLMEMU_CACHE_DIR"):
        return Path(os.environ["LLMEMU_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "llmemu"


def read_cached(name: str) -> str | None:
    try:
        return (cache_dir() / name).read_text()
    except OSError:
        return None


def write_cached(name: str, text: str) -> None:
    """Write whole or not at all (a rename), so a reader never sees half a file."""
    path = cache_dir() / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as fh:
            fh.write(text)
        os.replace(fh.name, path)
    except OSError:
        pass
