"""The real-time clock with a speed factor, against a wall clock the test controls."""

from __future__ import annotations

import asyncio

import pytest

from llmemu.core.errors import ConfigError
from llmemu.service.live.clock import RealTimeClock


class FakeWall:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_speed_scales_emulated_time():
    wall = FakeWall(100.0)
    clock = RealTimeClock(speed=2.0, wall=wall)
    wall.t = 101.5
    assert clock.now() == 3.0  # 1.5 wall seconds at speed 2
    assert clock.wall_at(10.0) == 105.0  # 100 + 10 / 2
    assert clock.lag_s(2.0) == 0.5  # emulated 2 s was due at wall 101.0


def test_slow_speed_runs_emulation_slower():
    wall = FakeWall(0.0)
    clock = RealTimeClock(speed=0.1, wall=wall)
    wall.t = 5.0
    assert clock.now() == pytest.approx(0.5)


def test_speed_must_be_positive():
    with pytest.raises(ConfigError, match="speed=0"):
        RealTimeClock(speed=0)


def test_sleep_until_waits_for_the_wall_moment():
    async def go() -> float:
        clock = RealTimeClock(speed=10.0)
        await clock.sleep_until(0.5)  # 0.05 wall seconds
        return clock.lag_s(0.5)

    lag = asyncio.run(go())
    assert 0 <= lag < 0.05  # never early; late by at most a timer tick on a busy host


def test_sleep_until_is_never_early_on_a_millisecond_timer():
    # uvloop (libuv) keeps its timers in whole milliseconds of a truncated loop clock: of 300
    # sleeps of 3.1-4.0 ms, 82 woke early, by up to 1.2 ms.
    uvloop = pytest.importorskip("uvloop")

    async def go() -> list[float]:
        clock = RealTimeClock(speed=1.0)
        lags = []
        for _ in range(40):
            due = clock.now() + 0.0034
            await clock.sleep_until(due)
            lags.append(clock.lag_s(due))
        return lags

    assert min(uvloop.run(go())) >= 0
