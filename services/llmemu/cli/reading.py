"""Reading the files a scenario names: regular files only, below a size limit.

`/dev/zero` given as a trace was read to 7.5 GB before a MemoryError, and a FIFO blocked
the command for ever; both are refused from their `stat` before they are opened, and a file
that grows past its limit while it is read is refused at the limit."""

from __future__ import annotations

import stat
from pathlib import Path

from llmemu.core.errors import ConfigError

SCENARIO_BYTES = 1 << 20
"""A scenario file (the largest preset scenario is about 2 KB)."""
CONFIG_BYTES = 4 << 20
"""A Hugging Face config.json (tens of KB)."""
DATA_BYTES = 256 << 20
"""A lengths CSV or a request trace (public traces are a few MB to ~100 MB)."""


def regular_file(path: Path, what: str, limit: int) -> Path:
    """`path`, if it is a regular file of at most `limit` bytes; `what` names it in errors
    (a field, or "scenario file")."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"{what}: file {str(path)!r} does not exist; fix the path") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{what}: {str(path)!r} is {_kind(info.st_mode)}, not a regular file; give a file")  # fmt: skip
    if info.st_size > limit:
        raise ConfigError(f"{what}: {str(path)!r} has {info.st_size} bytes; the limit is {limit}")
    return path


def read_text(path: Path, what: str, limit: int) -> str:
    """The UTF-8 text of `path` (a regular file of at most `limit` bytes)."""
    regular_file(path, what, limit)
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ConfigError(f"{what}: {str(path)!r} is over the limit of {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{what}: {str(path)!r} is not UTF-8 text") from None


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket"
