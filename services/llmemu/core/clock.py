"""Clocks: where "now" comes from. The core never reads the wall clock; a driver passes
times into `Engine.step`. Offline runs use a VirtualClock that jumps; the live server puts a
real-time clock with a speed factor (in the service layer) behind the same interface."""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds of emulated time since the clock started."""
        ...


class VirtualClock:
    """Emulated time that moves only when told to (offline simulation)."""

    def __init__(self, start_s: float = 0.0) -> None:
        self._now_s = start_s

    def now(self) -> float:
        return self._now_s

    def advance_to(self, t_s: float) -> None:
        """Move to `t_s`; time never runs backwards, so an earlier time is ignored."""
        self._now_s = max(self._now_s, t_s)
