"""OnePerTurn lets one holder in per event-loop iteration, so other work (the engine's
wake-up) runs between two prompts being counted, not after a whole burst of them."""

from __future__ import annotations

import asyncio

from llmemu.service.live.pacing import OnePerTurn


def test_other_callbacks_run_between_two_holders():
    order: list[str] = []

    async def go() -> None:
        gate = OnePerTurn()
        loop = asyncio.get_running_loop()
        ticking = True

        def tick() -> None:  # stands for any callback that is due, e.g. a timer
            order.append("tick")
            if ticking:
                loop.call_soon(tick)

        async def holder(name: str) -> None:
            async with gate:
                order.append(name)

        loop.call_soon(tick)
        await asyncio.gather(*(holder(n) for n in "ABC"))
        ticking = False
        await asyncio.sleep(0)

    asyncio.run(go())
    entries = [i for i, x in enumerate(order) if x != "tick"]
    assert [order[i] for i in entries] == ["A", "B", "C"]  # in arrival order
    assert all(b - a > 1 for a, b in zip(entries, entries[1:], strict=False))  # a tick between


class Bursts:
    """The engine's bursts as the gate sees them: one staged, due in `room_s`."""

    def __init__(self, room_s: float) -> None:
        self.room = room_s
        self.waiting: list = []

    def room_s(self) -> float:
        return self.room

    def after_burst(self, callback) -> None:
        self.waiting.append(callback)

    def out(self, next_room_s: float) -> None:
        """The burst is out, and the next one is staged `next_room_s` ahead."""
        self.room = next_room_s
        callbacks, self.waiting = self.waiting, []
        for callback in callbacks:
            callback()


def test_no_turn_is_given_while_a_burst_is_due_sooner_than_a_request_takes():
    entered: list[str] = []

    async def go() -> None:
        bursts = Bursts(room_s=0.001)  # the next burst is due in 1 ms; a request takes 2
        gate = OnePerTurn(bursts, reserve_s=0.002)

        async def holder(name: str) -> None:
            async with gate:
                entered.append(name)

        waiting = asyncio.gather(holder("A"), holder("B"), holder("C"))
        for _ in range(5):
            await asyncio.sleep(0)
        assert entered == []  # held back for the burst
        bursts.out(next_room_s=0.010)  # out; the next one leaves room for several turns
        await asyncio.wait_for(waiting, 1.0)

    asyncio.run(go())
    assert entered == ["A", "B", "C"]  # in arrival order


def test_after_a_burst_one_turn_is_given_however_soon_the_next_is_due():
    """Iterations shorter than a request's handling (a fast --speed) leave no room ever:
    each burst lets one request in, so none waits for more than one burst."""
    entered: list[str] = []

    async def go() -> None:
        bursts = Bursts(room_s=0.0005)
        gate = OnePerTurn(bursts, reserve_s=0.002)

        async def holder(name: str) -> None:
            async with gate:
                entered.append(name)

        waiting = asyncio.gather(holder("A"), holder("B"))
        for expected in (["A"], ["A", "B"]):
            await asyncio.sleep(0)
            bursts.out(next_room_s=0.0005)
            for _ in range(3):
                await asyncio.sleep(0)
            assert entered == expected
        await asyncio.wait_for(waiting, 1.0)

    asyncio.run(go())
