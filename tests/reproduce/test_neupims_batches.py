"""NeuPIMs' steady-state decode batches: contexts, memory, and one iteration by hand."""

from __future__ import annotations

import math

import pytest

from llmemu.reproduce.neupims_batches import STEADY_CONTEXT, Batch, throughput


def test_steady_contexts_are_the_snapshots_means():
    """ShareGPT: 512 x 314.0 + 64 x 290.2 + 512 x 300.9 = 333,400 tokens over 1,088 requests;
    Alpaca: 512 x 62.4 + 128 x 61.0 + 512 x 60.6 = 70,802 over 1,152. Both far above the
    published means' input + output / 2 (80 + 148 = 228 and 12 + 28 = 40)."""
    assert STEADY_CONTEXT["sharegpt"] == pytest.approx(333_400 / 1_088, abs=0.05)
    assert STEADY_CONTEXT["alpaca"] == pytest.approx(70_802 / 1_152, abs=0.05)


def test_attention_on_the_pim_saves_its_npu_time_in_every_layer():
    """GPT-3 7B, TP 4 (8 heads of 128 per device), 64 ShareGPT requests over
    round(64 x 306.4) = 19,610 tokens. Everything but attention is the same NPU work, so the
    two iterations differ by 32 layers x (NPU attention - PIM attention):
    NPU: 8 heads x 1.1641 ns x (19,610 + 64 x 162) = 279.18 us per layer;
    PIM (newton-pim, the npu+pim branch's commands): 2 requests of 306 tokens per channel.
    K^T.q per request: 2 rows of 4 heads x (GWRITE 124 + 10 tiles x (143 + 4 x 2 x 9 - 2))
    = 4,508 cycles and 2 x (1 + 10 x (1 + 4 x 9)) = 742 commands; s.V: 8 heads x (124 +
    4 x (143 + 2 x 21 - 2)) = 6,848 cycles and 8 x (1 + 4 x 22) = 712 commands. One command
    per cycle reaches the channels in order, so the last channel starts after 31 channels'
    commands: K 31 x 1,484 + 9,016 = 55,020, V 31 x 1,424 + 13,696 = 57,840 cycles:
    112.86 us per layer. 32 x (279.18 - 112.86) us = 5.32 ms."""
    common = {"batch": 64, "context": 306.4}
    npu_only = 64 / throughput(Batch("gpt3-7b", "npu-only-4", **common))
    npu_pim = 64 / throughput(Batch("gpt3-7b", "npu+pim-4", "pim-attention", **common))
    assert npu_only - npu_pim == pytest.approx(5.322e-3, rel=0.002)


def test_a_pipeline_stage_holds_the_whole_batch_or_nothing():
    """GPT-3 13B at TP 4 on NeuPIMs memory: 4 x 32 GB x 0.9 = 115.2 GB for 26 GB of weights,
    and 512 ShareGPT requests need 512 x 306.4 x (2 x 5120 x 2 B x 40 layers) = 128.5 GB of
    KV: they do not fit. 175B at PP 4 keeps all 128 requests in one stage of 24 layers."""
    big = Batch("gpt3-13b", "npu-only-4", batch=512, context=STEADY_CONTEXT["sharegpt"])
    assert math.isnan(throughput(big))
    stage = Batch("gpt3-175b", "npu-only-8", batch=128, context=61.5, pipeline_stages=4)
    assert throughput(stage) > 0


def test_best_setting_skips_settings_that_do_not_fit():
    from llmemu.reproduce.neupims import _best_ratio

    rows = [
        {"model": "gpt3-7b", "dataset": "alpaca", "batch": 64, "neupims": 3.0, "gpu": 2.0},
        {"model": "gpt3-13b", "dataset": "sharegpt", "batch": 512, "neupims": 4.0, "gpu": math.nan},
        {"model": "gpt3-30b", "dataset": "sharegpt", "batch": 256, "neupims": 2.5, "gpu": 1.0},
    ]
    # 3 / 2 = 1.5, nan (does not fit), 2.5 / 1 = 2.5: the best is the third.
    assert _best_ratio(rows, "gpu") == (2.5, "gpt3-30b sharegpt batch 256")
    assert math.isnan(_best_ratio(rows[1:2], "gpu")[0])
