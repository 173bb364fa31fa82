"""A RealTimeClock whose emulated time 0 is a wall moment shared through Redis, so that every
process of the deployment reads the same emulated time."""

from __future__ import annotations

import time

from llmemu.service.live.clock import RealTimeClock


class EpochClock(RealTimeClock):
    def __init__(self, speed: float, epoch_s: float) -> None:
        super().__init__(speed, wall=time.time)
        self.set_epoch(epoch_s)

    @property
    def epoch_s(self) -> float:
        return self._start_wall_s

    def set_epoch(self, epoch_s: float) -> None:
        self._start_wall_s = epoch_s  # RealTimeClock counts from its start; ours from the epoch
