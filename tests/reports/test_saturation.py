"""The saturation point of a load sweep: delivered vs offered rate with TTFT growth, or the
throughput plateau."""

from llmemu.reports.saturation import saturation, saturation_index


def test_knee_is_the_first_point_on_the_plateau() -> None:
    # best 30; 95% of it is 28.5; 29 (index 2) is the first to reach it.
    assert saturation_index([10.0, 20.0, 29.0, 30.0, 30.0]) == 2


def test_throughput_still_growing_at_the_last_point_is_not_saturated() -> None:
    # 95% of 30 is 28.5: only the last point reaches it.
    assert saturation_index([10.0, 20.0, 30.0]) is None


def test_collapse_after_the_peak_counts_as_saturation() -> None:
    assert saturation_index([10.0, 29.0, 20.0]) == 1


def test_one_point_cannot_show_a_knee() -> None:
    assert saturation_index([5.0]) is None


def test_a_rate_delivered_short_with_queueing_is_saturated() -> None:
    # The README's sweep: 48 req/s offered, 38.5 delivered (80%), TTFT p50 691 ms against
    # 16.6 ms at 8 req/s (41.6x): saturated there, though throughput still grew.
    offered = [8, 16, 32, 48]
    delivered = [7.878, 15.556, 30.085, 38.453]
    ttft = [0.0166, 0.0182, 0.0258, 0.6907]
    tput = [2016.8, 3982.2, 7701.8, 9843.9]
    found = saturation(offered, delivered, ttft, tput)
    assert found is not None and found.index == 3
    assert found.reason.startswith("delivered 38.5 of 48 req/s offered, TTFT p50 691 ms")


def test_a_finite_runs_drain_alone_is_not_saturation() -> None:
    # 85% delivered (the last requests' drain in a short run) but TTFT p50 only 1.2x
    assert saturation([2, 4], [1.7, 3.4], [0.020, 0.024], [100.0, 200.0]) is None


def test_a_plateau_is_saturation_even_when_the_rate_is_delivered() -> None:
    found = saturation([1, 2, 3, 4], [1, 2, 3, 4], [0.01] * 4, [10.0, 20.0, 29.0, 30.0])
    assert found is not None and found.index == 2 and "within 95%" in found.reason
