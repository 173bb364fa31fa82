"""VirtualClock: emulated time moves only when told to, and never backwards."""

from __future__ import annotations

from llmemu.core.clock import VirtualClock


def test_virtual_clock_advances_and_never_goes_back():
    clock = VirtualClock(2.0)
    assert clock.now() == 2.0
    clock.advance_to(5.5)
    clock.advance_to(3.0)  # an earlier time is ignored
    assert clock.now() == 5.5
