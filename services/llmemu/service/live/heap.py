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
(`collect_due`: generation 0 every 700 allocations, the older ones on the schedule below),
and the collector's own trigger is raised tenfold, a safety net for a turn that allocates
that much before the loop gets round. The loop runs
them once it has staged the next iteration, so it knows how long that iteration leaves: a
full pass waits for one with room for it.

While serving (`frozen_heap`), the middle generation is collected every second young pass,
not every twelfth as the collector's own thresholds (700, 10, 10) space it. Its pass walks
everything that survived the young passes since the last one, and a request lives a second or more, so nearly
everything a request allocates survives them (its coroutines, its connection's protocol, its
chunks in flight): at 300 streams, when a wave of requests came in, a dozen passes'
survivors were 40,000 objects and the pass held the loop for 6-16 ms, a stall that made the
next four bursts late. Two passes' worth is a sixth of that. Each object is walked there
once either way (it moves on to the oldest generation), so the total stays the same. Full
passes come every 133 young passes, as the collector's own thresholds space them, and the
collector's own trigger for the oldest generation is raised past the point where the
engine loop would run a deferred full pass anyway: left at 10, it ran full passes wherever
a turn allocated enough to trip the safety net, in the middle of an iteration. Outside
`frozen_heap` (an app driven in-process, without its lifespan) the collector's trigger is
not raised, so the loop keeps the collector's own spacing: the two then agree.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

YOUNG_EVERY = 700
"""Allocations between young passes (CPython's default first threshold)."""
FULL_PASS_DEFERRED_AT_MOST = 8
"""How many times its due count the oldest generation's count may reach while full passes
wait for room (a steady load of short iterations never leaves any)."""
FULL_PASS_ROOM_S = 0.040
"""Wall seconds to spare before the next burst for a full pass to run: at 300 streams one
took 20-31 ms, and a cut into the next iteration's time made its burst late."""
SAFETY_FACTOR = 10


@dataclass(frozen=True, slots=True)
class Schedule:
    middle_every: int
    """Young passes from one pass of the middle generation to the next, that one included."""
    full_after: int
    """Passes of the middle generation after which the oldest is due."""


OWN = Schedule(middle_every=12, full_after=10)
"""The collector's own spacing under its default thresholds (700, 10, 10): a middle pass
once its count is over 10, a full one once the oldest's is, the 133rd young pass."""
SERVING = Schedule(middle_every=2, full_after=65)
"""While serving: a middle pass every second young pass, a full one still the 133rd."""
_schedule = OWN
"""The loop keeps the collector's own spacing outside `frozen_heap` (an app driven in-process,
without its lifespan), where the collector's own trigger, not raised, runs passes too."""


@contextmanager
def frozen_heap() -> Iterator[None]:
    global _schedule
    gc.collect()  # only what is alive is frozen
    gc.freeze()
    thresholds = gc.get_threshold()
    # The collector's own trigger is a safety net: young passes at ten times the
    # allocations, and a full pass only past where collect_due would have forced one.
    gc.set_threshold(thresholds[0] * SAFETY_FACTOR, thresholds[1], SERVING.full_after * FULL_PASS_DEFERRED_AT_MOST)  # fmt: skip
    _schedule = SERVING
    try:
        yield
    finally:
        _schedule = OWN
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def collect_due(room_s: float = math.inf) -> None:
    """The collection due by now, if any, once YOUNG_EVERY allocations have piled up: the
    middle generation every `middle_every` young passes, the oldest after `full_after`
    middle ones (the schedule in force). A full pass waits for an iteration with `room_s`
    >= FULL_PASS_ROOM_S wall seconds to spare (a prefill, an idle spell); the younger ones,
    a millisecond or two, run at once."""
    count0, count1, count2 = gc.get_count()
    if count0 < YOUNG_EVERY:
        return
    due = _schedule.full_after
    if count2 > due and (room_s >= FULL_PASS_ROOM_S or count2 > due * FULL_PASS_DEFERRED_AT_MOST):  # fmt: skip
        gc.collect(2)
    else:
        gc.collect(1 if count1 + 1 >= _schedule.middle_every else 0)  # this pass is one of them
