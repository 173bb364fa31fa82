"""The server's start-up heap, kept out of the cyclic garbage collector's passes.

A full collection walks every object the collector tracks, and after start-up most of them
live as long as the process: the tokenizer's vocabulary, the presets, the framework. At 256
streams a full pass held the event loop for up to 344 ms on a busy host (two in 16 s), and
every token due meanwhile left that late. Frozen (`gc.freeze`), they are skipped; what
serving allocates is still collected. Unfrozen on the way out, so that a process that
serves several times in turn (the tests) can still collect what each left behind.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen_heap() -> Iterator[None]:
    gc.collect()  # only what is alive is frozen
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
