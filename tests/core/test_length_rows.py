"""parse_length_rows: the lengths CSV of `workload.lengths`, parsed by numpy's reader when it
can and by a row loop that names the bad line when it cannot; both give the same rows."""

from __future__ import annotations

import numpy as np
import pytest

from llmemu.core.errors import ConfigError
from llmemu.core.workload import parse_length_rows


def test_our_header_and_blank_lines():
    rows = parse_length_rows("input_tokens,output_tokens\n42,285\n\n19, 82 \n", "t.csv")
    assert rows.tolist() == [[42, 285], [19, 82]] and rows.dtype == np.int64


def test_splitwise_columns_are_picked_by_name():
    text = "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,374,44\n0.5,1020,7\n"
    assert parse_length_rows(text, "conv.csv").tolist() == [[374, 44], [1020, 7]]


def test_cells_only_python_reads_still_parse():
    # numpy's reader refuses "1_000" and a short trailing column; float() takes "1_000" = 1000
    # and the row loop only needs the two named columns.
    text = "input_tokens,output_tokens,note\n1_000,5\n7,8,x\n"
    assert parse_length_rows(text, "t.csv").tolist() == [[1000, 5], [7, 8]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("input_tokens,output_tokens\n1,2\n3,x\n", "t.csv:3: '3,x' has no number"),
        ("input_tokens,output_tokens\n1,2\n3\n", "t.csv:3: '3' has no number"),
        ("input_tokens,output_tokens\n1,2\n3,-1\n", "t.csv:3: lengths must be in [0, 10000000]"),
        ("input_tokens,output_tokens\n1,nan\n", "t.csv:2: lengths must be in [0, 10000000]"),
        ("prompt,answer\n1,2\n", "t.csv: no input column; name one of input_tokens"),
    ],
)
def test_bad_rows_are_named(text, message):
    with pytest.raises(ConfigError) as err:
        parse_length_rows(text, "t.csv")
    assert str(err.value).startswith(message)


def test_errors_name_the_line_of_the_file_past_blank_lines():
    # line 1 blank, header on 2, data on 3, blank 4 (spaces), bad data on 5
    text = "\ninput_tokens,output_tokens\n1,2\n   \n3,-4\n"
    with pytest.raises(ConfigError, match=r"^t.csv:5: lengths must be"):
        parse_length_rows(text, "t.csv")
    with pytest.raises(ConfigError, match=r"^t.csv:5: '3,y' has no number"):
        parse_length_rows(text.replace("-4", "y"), "t.csv")


def test_only_blank_lines_after_the_header_is_no_row():
    with pytest.raises(ConfigError, match="needs a header line and at least one row"):
        parse_length_rows("input_tokens,output_tokens\n\n  \n", "t.csv")
