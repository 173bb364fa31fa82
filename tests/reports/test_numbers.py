"""Small throughputs keep their significant digits."""

from llmemu.reports.numbers import sig


def test_small_values_show_three_significant_digits() -> None:
    # edge-llama2-70b-klonet.yaml simulates at 0.0425 output tok/s: printed "0.0" with .1f
    assert sig(0.04254) == "0.0425"
    assert sig(0.000123456) == "0.000123"
    assert sig(0.00223, decimals=3) == "0.00223"


def test_large_values_keep_the_fixed_decimals() -> None:
    assert sig(2016.84) == "2016.8"
    assert sig(7.878, decimals=3) == "7.878"  # 4 significant digits: the decimals rule wins
    assert sig(0.0) == "0.0"
