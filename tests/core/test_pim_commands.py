"""PIM attention command by command, as casys-kaist/NeuPIMs times it (core/pim_commands.py).

Hand-worked from the simulator's own configuration: main 1092220 (NeuPIMs: PIM_COMPS_READRES,
commands queued at once) and branch npu+pim e51a4af (Newton: PIM_COMP x n + PIM_READRES, one
command per NPU cycle), configs/memory_configs/{neupims,newton}.json, GPT-3 7B at TP 4
(8 heads of 128 = 1,024 query elements per device), extern/NewtonSim
HBM2_8Gb_x128_{dual,single}pim.ini. A row switch is 143 cycles (tRTP 5 + 32 precharges +
header 1 + 3 x tFAW 30 + 1 + tRCDRD 14); a compute step 2; a GWRITE 93 (dual) or 124 (single).
"""

from __future__ import annotations

import pytest

from llmemu.core.catalog import load_device
from llmemu.core.pim_commands import (
    attention_s,
    channel_loads,
    k_request,
    operation_cycles,
    tile_cycles,
    v_request,
)

DUAL = load_device("neupims-pim").pim_commands
SINGLE = load_device("newton-pim").pim_commands


def test_the_presets_restate_the_two_branches():
    assert (DUAL.readout, DUAL.issue, DUAL.gwrite_cycles) == ("fused", "per-channel", 93)
    assert (SINGLE.readout, SINGLE.issue, SINGLE.gwrite_cycles) == (
        "separate",
        "one-per-cycle",
        124,
    )
    for pc in (DUAL, SINGLE):
        assert (pc.row_switch_cycles, pc.comp_cycles, pc.page_elements, pc.banks) == (
            143,
            2,
            512,
            32,
        )


def test_tiles():
    """K tile (4 heads of 8 steps): dual 143 + 3 x 2 x (max(8, 6) + 1) = 197 (the last group's
    window hides under the next row switch); single 143 + 4 x 2 x (8 + 1) - 2 = 213 (the row
    closes 5 cycles after the last read-out, which the row switch already counts). V tile (one
    group of 32 steps): dual 143; single 143 + 2 x 33 - 2 = 207."""
    assert tile_cycles(4, 8, DUAL) == 197
    assert tile_cycles(4, 8, SINGLE) == 213
    assert tile_cycles(1, 32, DUAL) == 143
    assert tile_cycles(1, 32, SINGLE) == 207


def test_one_request_of_512_tokens():
    """K^T.q: 2 rows of 4 heads, each a GWRITE and 512 / 32 = 16 tiles:
    dual 2 x (93 + 16 x 197) = 6,490 cycles, 2 x (1 + 16 x (1 + 4)) = 162 commands;
    single 2 x (124 + 16 x 213) = 7,064 cycles, 2 x (1 + 16 x (1 + 4 x 9)) = 1,186 commands.
    s.V: 8 heads x one 512-token row, each a GWRITE and 4 tiles:
    dual 8 x (93 + 4 x 143) = 5,320 cycles, 8 x (1 + 4 x 2) = 72 commands;
    single 8 x (124 + 4 x 207) = 7,616 cycles, 8 x (1 + 4 x 34) = 1,096 commands."""
    assert k_request(512, 1024, DUAL) == (6_490, 162)
    assert k_request(512, 1024, SINGLE) == (7_064, 1_186)
    assert v_request(512, 1024, DUAL) == (5_320, 72)
    assert v_request(512, 1024, SINGLE) == (7_616, 1_096)


def test_a_partial_last_row_of_heads_and_of_tokens():
    """GPT-3 13B at TP 4: 10 heads, rows of 4, 4 and 2; 32 tokens is one K tile:
    (93 + 197) x 2 + 93 + 143 + 1 x 2 x 9 = 834 cycles (dual).
    600 tokens of s.V (single) is a full row of 32 steps and one of ceil(88 / 16) = 6, per head
    (124 + 4 x (143 + 2 x 33 - 2)) + (124 + 4 x (143 + 2 x 7 - 2)) = 952 + 744 = 1,696."""
    assert k_request(32, 1280, DUAL)[0] == 834
    assert v_request(600, 128, SINGLE)[0] == 1_696


def test_channels_in_parallel_or_fed_one_command_a_cycle():
    """Three channels with (cycles, commands) (100, 10), (50, 40), (30, 10): in parallel the
    busiest sets the time, 100; fed one command a cycle, channel 2 starts at 10 + 40 = 50 and
    ends at 80, channel 1 at 10 + 50 = 60: still 100. Swap the first two: channel 0 ends at
    50, channel 1 starts at 40 and ends at 140, channel 2 at 50 + 30 = 80: 140."""
    loads = [(100, 10), (50, 40), (30, 10)]
    assert operation_cycles(loads, DUAL) == 100
    assert operation_cycles(loads, SINGLE) == 100
    assert operation_cycles([(50, 40), (100, 10), (30, 10)], SINGLE) == 140


def test_a_batch_on_its_channels():
    """Two requests of 512 tokens on channel 0 and one on channel 1 of two: dual, K^T.q on
    channel 0 takes 2 x 6,490 = 12,980 cycles, then s.V 2 x 5,320 = 10,640: 23.62 us at 1 GHz.
    Single, fed in channel order: K ends when channel 1, starting after 2 x 1,186 commands,
    has run 7,064 cycles (2,372 + 7,064 = 9,436) or channel 0 has run 14,128: 14,128; V: 2 x
    7,616 = 15,232 against 2,192 + 7,616 = 9,808: 15,232; 29.36 us."""
    contexts, placed = (512, 512, 512), (0, 0, 1)
    k, v = channel_loads(contexts, placed, 2, 1024, DUAL)
    assert attention_s(k, v, DUAL) == pytest.approx(23.62e-6)
    k, v = channel_loads(contexts, placed, 2, 1024, SINGLE)
    assert attention_s(k, v, SINGLE) == pytest.approx(29.36e-6)
