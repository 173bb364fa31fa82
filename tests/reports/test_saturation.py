"""The saturation point of a load sweep: first load within 95% of the best throughput."""

from llmemu.reports.saturation import saturation_index


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
