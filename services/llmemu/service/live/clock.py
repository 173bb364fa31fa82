"""The real-time clock: emulated time paced against the wall clock with a speed factor.

`--speed 1` is real time; `--speed 0.1` runs ten times slower (an emulation the host cannot
keep up with), `--speed 10` ten times faster. Lag (how late the host was against the
emulated schedule) is reported in wall seconds, the unit in which the host falls behind.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from llmemu.core.errors import ConfigError


class RealTimeClock:
    def __init__(self, speed: float = 1.0, wall: Callable[[], float] = time.perf_counter) -> None:
        if not speed > 0:
            raise ConfigError(f"speed={speed}: must be above 0 (1 is real time)")
        self.speed = speed
        self._wall = wall
        self._start_wall_s = wall()

    def now(self) -> float:
        """Seconds of emulated time since the clock started."""
        return (self._wall() - self._start_wall_s) * self.speed

    def wall_at(self, emulated_s: float) -> float:
        return self._start_wall_s + emulated_s / self.speed

    def lag_s(self, emulated_s: float) -> float:
        """Wall seconds by which now is past the moment `emulated_s` was due (<0: early)."""
        return self._wall() - self.wall_at(emulated_s)

    async def sleep_until(self, emulated_s: float) -> None:
        """Return at the wall moment of `emulated_s` or after it, never before. An event
        loop's timer can fire early (uvloop's count whole milliseconds of a truncated loop
        clock: a quarter of 3-4 ms sleeps woke up to 1.2 ms early), so the wall clock is
        read again on each wake and what is left is slept again."""
        due = self.wall_at(emulated_s)
        while (delay := due - self._wall()) > 0:
            await asyncio.sleep(delay)
