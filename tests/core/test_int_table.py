"""int_table: a CSV body of plain non-negative integers read with array arithmetic; anything
else answers None so that the general reader parses it and names a bad line."""

from __future__ import annotations

import numpy as np
import pytest

from llmemu.core.errors import ConfigError
from llmemu.core.int_table import int_table
from llmemu.core.workload import MAX_TOKENS, parse_length_rows


def test_cells_of_different_widths_and_leading_zeros():
    # 7, 285 = 2*100 + 8*10 + 5, 10000000 (eight digits), 007 = 7, 0
    table = int_table("7,285\n10000000,007\n0,19", 2)
    assert table.tolist() == [[7, 285], [10_000_000, 7], [0, 19]]
    assert table.dtype == np.int64


def test_fifteen_digits_are_exact_and_sixteen_are_refused():
    assert int_table("999999999999999\n", 1).tolist() == [[10**15 - 1]]
    assert int_table("1000000000000000\n", 1) is None


@pytest.mark.parametrize(
    "body",
    [
        "1,2\n3\n",  # a short row
        "1,2\n3,4,5\n",  # a long row
        "1,2,3\n4\n",  # the cell count is right, the line ends are not
        "1,2\n\n3,4\n",  # a blank line
        "1,\n",  # an empty cell
        "1,2\r\n",  # a carriage return
        "1, 2\n",  # a space
        "1,-2\n",  # a sign
        "1,2.0\n",  # a decimal point
        "1,２\n",  # a digit outside ASCII
        "",  # no row
    ],
)
def test_anything_but_plain_integers_is_left_to_the_general_reader(body):
    assert int_table(body, 2) is None


def test_the_fast_path_gives_the_general_readers_rows():
    # same rows, once as plain integers and once with a space the general reader strips
    plain = parse_length_rows("output_tokens,input_tokens\n5,42\n285,19\n", "t.csv")
    spaced = parse_length_rows("output_tokens,input_tokens\n5, 42\n285,19\n", "t.csv")
    assert plain.tolist() == spaced.tolist() == [[42, 5], [19, 285]]
    assert plain.dtype == spaced.dtype == np.int64


def test_a_length_over_the_limit_is_still_named_by_line():
    text = f"input_tokens,output_tokens\n1,2\n3,{MAX_TOKENS + 1}\n"
    with pytest.raises(ConfigError, match=r"^t.csv:3: lengths must be in \[0, 10000000\]"):
        parse_length_rows(text, "t.csv")
