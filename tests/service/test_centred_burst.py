"""The engine loop begins an iteration's burst of writes half its predicted length before
the iteration's end, so that its tokens straddle their moment instead of all trailing it
(engine_loop.py, lead.py). A fake wall clock: each write takes 10 us of it, and a sleep
jumps it to the sleep's end."""

from __future__ import annotations

import asyncio

import pytest
from serve_helpers import make_app

from llmemu.protocol.internal import SubmitSequence
from llmemu.service.live.clock import RealTimeClock
from llmemu.service.live.engine_loop import SchedulerService
from llmemu.service.live.transport import InMemoryTransport

WRITE_S = 10e-6
STREAMS = 16


class Wall:
    t = 100.0

    def __call__(self) -> float:
        return self.t


class Writer:
    """A stream's subscriber whose write takes WRITE_S; keeps each token's signed lag."""

    def __init__(self, wall: Wall, clock: RealTimeClock, bursts: dict[float, list[float]]) -> None:  # fmt: skip
        self.wall, self.clock, self.bursts = wall, clock, bursts

    def prepare(self, events):
        due_s = events[0].time_s

        def release() -> None:
            self.wall.t += WRITE_S
            self.bursts.setdefault(due_s, []).append(self.clock.lag_s(due_s))

        return release


class Observer:
    def __init__(self) -> None:
        self.finished = 0
        self.pacing_lags: list[float] = []

    def on_finish(self, *_) -> None:
        self.finished += 1

    def on_pacing_lag(self, lag_s: float) -> None:
        self.pacing_lags.append(lag_s)

    def __getattr__(self, name):  # on_step, on_first_token, on_tokens
        return lambda *_: None


def test_a_burst_begins_half_its_length_early_once_a_burst_has_been_timed():
    replica = make_app(speed=1.0).state.scheduler.replica
    wall, bursts, observer = Wall(), {}, Observer()
    clock = RealTimeClock(speed=1.0, wall=wall)

    async def sleep_until(emulated_s: float) -> None:
        wall.t = max(wall.t, clock.wall_at(emulated_s))
        await asyncio.sleep(0)

    clock.sleep_until = sleep_until  # type: ignore[method-assign]
    transport = InMemoryTransport()
    for i in range(STREAMS):
        transport.subscribe(f"r{i}", Writer(wall, clock, bursts))  # type: ignore[arg-type]
    transport.submit([SubmitSequence(f"s{i}", f"r{i}", 32, 4, 0.0, "length") for i in range(STREAMS)])  # fmt: skip

    async def serve() -> None:
        service = SchedulerService(replica, clock, transport, observer)  # type: ignore[arg-type]
        service.start()
        while observer.finished < STREAMS:
            await asyncio.sleep(0)
        await service.stop()

    asyncio.run(serve())
    first, *later = [bursts[due] for due in sorted(bursts)]
    assert len(later) == 3  # 4 tokens each: one burst of 16 per iteration
    # Nothing timed yet: the first burst begins at its moment, its tokens 10-160 us late.
    assert first == pytest.approx([WRITE_S * k for k in range(1, STREAMS + 1)])
    # 16 writes of 10 us take 160 us: each later burst begins 80 us early, its tokens from
    # 70 us early to 80 us late.
    for burst in later:
        assert burst == pytest.approx([WRITE_S * (k - STREAMS / 2) for k in range(1, STREAMS + 1)])  # fmt: skip
    # Each burst began as planned: the monitor sees no lag (a burst's spread is not the host
    # falling behind; the last token of each was 160 and then 80 us late).
    assert observer.pacing_lags == pytest.approx([0.0] * 4, abs=1e-12)
