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

The middle generation is collected every second young pass, not every tenth as the
collector's own schedule has it. Its pass walks everything that survived the young passes
since the last one, and a request lives a second or more, so nearly everything a request
allocates survives them (its coroutines, its connection's protocol, its chunks in flight): at
300 streams, when a wave of requests came in, ten passes' survivors were 40,000 objects and
the pass held the loop for 6-16 ms, a stall that made the next four bursts late. Two passes'
worth is a fifth of that. Each object is walked there once either way (it moves on to the
oldest generation), so the total stays the same; full passes come after as many young passes
as before.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_EVERY = 700
"""Allocations between young passes (CPython's default first threshold)."""
MIDDLE_EVERY = 2
"""Young passes between passes of the middle generation (CPython's default: 10)."""
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
    """The collection due by now, if any, once YOUNG_EVERY allocations have piled up: the
    middle generation every MIDDLE_EVERY young passes, the oldest after as many young
    passes as the collector's own thresholds put between two full passes. A full pass
    waits for an iteration with `room_s` >= FULL_PASS_ROOM_S wall seconds to spare (a
    prefill, an idle spell); the younger ones, a millisecond or two, run at once."""
    count0, count1, count2 = gc.get_count()
    if count0 < YOUNG_EVERY:
        return
    _, threshold1, threshold2 = gc.get_threshold()
    # count2: middle passes since the last full one, each MIDDLE_EVERY young passes.
    full_after = threshold1 * threshold2 // MIDDLE_EVERY
    if count2 > full_after and (room_s >= FULL_PASS_ROOM_S or count2 > full_after * FULL_PASS_DEFERRED_AT_MOST):  # fmt: skip
        gc.collect(2)
    else:
        gc.collect(1 if count1 + 1 >= MIDDLE_EVERY else 0)  # this pass is one of them
