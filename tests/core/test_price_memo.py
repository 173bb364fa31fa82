"""The decode-price line: read off only where three or more exact prices agree on it."""

from __future__ import annotations

import pytest

from llmemu.core.ops import BatchShape
from llmemu.core.price_memo import DecodeLine
from llmemu.core.pricing import IterationCost, ProcessorWork


class Kinked:
    """duration = max(1 + 2c, 5 + c) seconds for summed context c: a kink at c = 4."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, batch: BatchShape) -> IterationCost:
        c = batch.decode_context
        self.calls.append(c)
        t = max(1.0 + 2 * c, 5.0 + c)
        return IterationCost(t, {"gpu": ProcessorWork(busy_s=t, flops=3.0 * c)})


def price(memo, exact, c):
    return memo.price(BatchShape(num_decode=2, decode_context=c, num_logits=2), exact)


def test_a_line_checked_on_three_points_is_read_between_them_and_widened_on_it():
    memo, exact = DecodeLine(), Kinked()
    for c in (4, 6, 10):  # on 1 + 2c (the larger from c = 4 on): 9, 13, 21
        assert price(memo, exact, c).duration_s == 1 + 2 * c
    got = price(memo, exact, 7)  # inside [4, 10]: read off the line
    assert exact.calls == [4, 6, 10]
    assert got.duration_s == pytest.approx(15.0) and got.work["gpu"].flops == pytest.approx(21.0)
    assert price(memo, exact, 20).duration_s == 41  # outside: priced, on the line, widens
    price(memo, exact, 15)
    assert exact.calls == [4, 6, 10, 20]


def test_a_point_off_the_line_retires_the_key_to_exact_prices():
    memo, exact = DecodeLine(), Kinked()
    for c in (5, 6, 7):  # on 1 + 2c
        price(memo, exact, c)
    assert price(memo, exact, 0).duration_s == 5  # max(1, 5): off the line 1 + 2c
    price(memo, exact, 6)
    assert exact.calls == [5, 6, 7, 0, 6]


def test_three_points_across_the_kink_are_not_a_line():
    memo, exact = DecodeLine(), Kinked()
    for c in (0, 4, 8):  # 5, 9, 17: not collinear
        price(memo, exact, c)
    price(memo, exact, 2)
    assert exact.calls == [0, 4, 8, 2]
