"""The server's heap and the cyclic garbage collector: start-up objects out of its passes,
and its passes where a pause delays no token.

A full collection walks every object the collector tracks, and after start-up most of them
live as long as the process: the tokenizer's vocabulary, the presets, the framework. At 256
streams a full pass held the event loop for up to 344 ms on a busy host (two in 16 s), and
every token due meanwhile left that late. Frozen (`gc.freeze`), they are skipped; what
serving allocates is still collected. Unfrozen on the way out, so that a process that
serves several times in turn (the tests) can still collect what each left behind.

The young passes, left to themselves, run whenever 700 allocations have piled up, in the
middle of an iteration's burst of writes as likely as anywhere: at 32 streams their 2-5 ms
passes put the p99 pacing lag at 12-15 ms where it was 6-9 ms with the collector off. While
serving, the engine loop runs them itself right after an iteration's tokens are out
(`collect_due`, the same schedule: generation 0 every 700 allocations, an older one when
its count is over its threshold), and the collector's own trigger is raised tenfold, a
safety net for a turn that allocates that much before the loop gets round. The loop runs
them once it has staged the next iteration, so it knows how long that iteration leaves: a
full pass waits for one with room for it.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_EVERY = 700
"""Allocations between young passes (CPython's default first threshold)."""
SAFETY_FACTOR = 10


@contextmanager
def frozen_heap() -> Iterator[None]:
    gc.collect()  # only what is alive is frozen
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0] * SAFETY_FACTOR, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


FULL_PASS_ROOM_S = 0.030
"""Wall seconds to spare before the next token is due for a full pass to run: at 256
streams one took up to 15 ms, and a cut into the next iteration's time made its burst late."""
FULL_PASS_DEFERRED_AT_MOST = 8
"""How far over its threshold the oldest generation's count may grow while full passes
wait for room (a steady load of short iterations never leaves any)."""


def collect_due(room_s: float = math.inf) -> None:
    """The collection the collector would have run by now, if any: the oldest generation
    whose count is over its threshold, once YOUNG_EVERY allocations have piled up. A full
    pass (the oldest generation) waits for an iteration with `room_s` >= FULL_PASS_ROOM_S
    wall seconds to spare (a prefill, an idle spell); the younger ones, a fraction of a
    millisecond, run at once."""
    count0, count1, count2 = gc.get_count()
    if count0 < YOUNG_EVERY:
        return
    _, threshold1, threshold2 = gc.get_threshold()
    full_due = count2 > threshold2
    if full_due and (room_s >= FULL_PASS_ROOM_S or count2 > threshold2 * FULL_PASS_DEFERRED_AT_MOST):  # fmt: skip
        gc.collect(2)
    else:
        gc.collect(1 if count1 > threshold1 else 0)
