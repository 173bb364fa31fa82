"""The server's start-up heap is frozen while it serves (full collections skip it) and
unfrozen when it stops."""

from __future__ import annotations

import gc

from serve_helpers import make_app, served


def test_the_start_up_heap_is_frozen_while_serving_and_released_after():
    app = make_app()
    with served(app):
        # The whole start-up heap (the vocabulary alone is thousands of objects).
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0


def test_while_serving_the_collector_waits_for_the_engine_loop_to_run_its_passes():
    from llmemu.service.live.heap import (
        FULL_PASS_DEFERRED_AT_MOST,
        SERVING,
        YOUNG_EVERY,
        collect_due,
        frozen_heap,
    )

    before = gc.get_threshold()
    with frozen_heap():
        # A safety net only: young passes at ten times the allocations, and no full pass
        # before collect_due would have forced one (65 x 8 middle passes).
        assert gc.get_threshold() == (before[0] * 10, before[1], SERVING.full_after * FULL_PASS_DEFERRED_AT_MOST)  # fmt: skip
        gc.collect()
        keep = [[] for _ in range(YOUNG_EVERY // 2)]  # tracked allocations, fewer than due
        collect_due()
        assert gc.get_count()[0] >= YOUNG_EVERY // 2  # not due: nothing collected
        keep += [[] for _ in range(YOUNG_EVERY)]
        collect_due()
        assert gc.get_count()[0] < YOUNG_EVERY // 2  # due: generation 0 collected
    assert gc.get_threshold() == before
    del keep


def test_the_middle_generation_is_collected_every_second_young_pass():
    from llmemu.service.live import heap

    keep: list[list] = []  # tracked allocations
    with heap.frozen_heap():
        gc.collect()
        middle = gc.get_count()[2]
        keep.extend([] for _ in range(heap.YOUNG_EVERY))
        heap.collect_due()  # the first young pass: generation 0 only
        assert gc.get_count()[1:] == (1, middle)
        keep.extend([] for _ in range(heap.YOUNG_EVERY))
        heap.collect_due()  # the second: generation 1 too, counted once in generation 2
        assert gc.get_count()[1:] == (0, middle + 1)
    keep.clear()


def test_a_full_pass_comes_every_133_young_passes_as_the_collectors_own_thresholds_space_them():
    """CPython's (700, 10, 10): a middle pass when its count is over 10 (every 12th young
    pass), a full one when the oldest's count is over 10: 11 x 12 + 1 = 133 passes."""
    from llmemu.service.live import heap

    passes: list[int] = []

    def seen(phase: str, info: dict) -> None:
        if phase == "start":
            passes.append(info["generation"])

    keep: list[list] = []  # tracked allocations
    with heap.frozen_heap():
        gc.collect()
        gc.callbacks.append(seen)
        try:
            while 2 not in passes:
                keep.extend([] for _ in range(heap.YOUNG_EVERY))
                heap.collect_due()
        finally:
            gc.callbacks.remove(seen)
    keep.clear()
    assert len(passes) == 133
    assert passes[:-1] == [0, 1] * 66  # the middle generation every second pass


def test_a_full_pass_waits_for_an_iteration_with_room_for_it():
    from llmemu.service.live import heap

    keep: list[list] = []  # tracked allocations
    with heap.frozen_heap():
        gc.collect()
        due = heap.SERVING.full_after
        while gc.get_count()[2] <= due:  # the oldest generation due
            gc.collect(1)  # each pass of generation 1 counts one in generation 2
        keep.extend([] for _ in range(heap.YOUNG_EVERY))  # and a young pass due
        heap.collect_due(room_s=heap.FULL_PASS_ROOM_S / 2)  # a short iteration: the young pass only
        assert gc.get_count()[2] > due
        keep.extend([] for _ in range(heap.YOUNG_EVERY))
        heap.collect_due(room_s=heap.FULL_PASS_ROOM_S)  # room enough: the full pass
        assert gc.get_count()[2] == 0
        while gc.get_count()[2] <= due * heap.FULL_PASS_DEFERRED_AT_MOST:  # no room, ever
            gc.collect(1)
        keep.extend([] for _ in range(heap.YOUNG_EVERY))
        heap.collect_due(room_s=0.0)  # deferred as far as it may be: it runs anyway
        assert gc.get_count()[2] == 0
    keep.clear()
