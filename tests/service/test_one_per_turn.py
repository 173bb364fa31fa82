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
