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
