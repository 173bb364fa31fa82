"""OnePerTurn lets one holder in per event-loop iteration, so other work (the engine's
wake-up) runs between two prompts being counted, not after a whole burst of them."""

from __future__ import annotations

import asyncio
import math

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


def test_no_turn_is_given_while_a_burst_is_due_sooner_than_a_request_takes():
    entered: list[str] = []

    async def go() -> None:
        room = {"s": 0.001}  # the engine's next burst is due in 1 ms; a request takes 2
        gate = OnePerTurn(room_s=lambda: room["s"], reserve_s=0.002)

        async def holder(name: str) -> None:
            async with gate:
                entered.append(name)

        waiting = asyncio.gather(holder("A"), holder("B"))
        await asyncio.sleep(0.02)  # ten retries find the burst still due
        assert entered == []
        room["s"] = math.inf  # the burst is out and the next iteration not staged yet
        await asyncio.wait_for(waiting, 1.0)

    asyncio.run(go())
    assert entered == ["A", "B"]  # in arrival order


def test_a_turn_is_given_at_once_with_room_before_the_burst():
    async def go() -> list[str]:
        gate = OnePerTurn(room_s=lambda: 0.010, reserve_s=0.002)
        entered: list[str] = []
        async with gate:
            entered.append("A")
        return entered

    assert asyncio.run(go()) == ["A"]
