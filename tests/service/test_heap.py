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
    from llmemu.service.live.heap import YOUNG_EVERY, collect_due, frozen_heap

    before = gc.get_threshold()
    with frozen_heap():
        assert gc.get_threshold() == (before[0] * 10, *before[1:])  # a safety net only
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


def test_a_full_pass_waits_for_an_iteration_with_room_for_it():
    from llmemu.service.live import heap

    keep: list[list] = []  # tracked allocations
    with heap.frozen_heap():
        gc.collect()
        _, threshold1, threshold2 = gc.get_threshold()
        threshold2 = threshold1 * threshold2 // heap.MIDDLE_EVERY  # 100 young passes, as CPython's
        assert threshold2 == 50
        while gc.get_count()[2] <= threshold2:  # the oldest generation over its threshold
            gc.collect(1)  # each pass of generation 1 counts one in generation 2
        keep.extend([] for _ in range(heap.YOUNG_EVERY))  # and a young pass due
        heap.collect_due(room_s=heap.FULL_PASS_ROOM_S / 2)  # a short iteration: the young pass only
        assert gc.get_count()[2] > threshold2
        keep.extend([] for _ in range(heap.YOUNG_EVERY))
        heap.collect_due(room_s=heap.FULL_PASS_ROOM_S)  # room enough: the full pass
        assert gc.get_count()[2] == 0
        while gc.get_count()[2] <= threshold2 * heap.FULL_PASS_DEFERRED_AT_MOST:  # no room, ever
            gc.collect(1)
        keep.extend([] for _ in range(heap.YOUNG_EVERY))
        heap.collect_due(room_s=0.0)  # deferred as far as it may be: it runs anyway
        assert gc.get_count()[2] == 0
    keep.clear()
