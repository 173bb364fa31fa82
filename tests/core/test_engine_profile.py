"""Engine profiles: per-iteration host work, the sampler, and sustained clocks."""

from __future__ import annotations

import pytest

from llmemu.core.catalog import load_device, load_system
from llmemu.core.cost import Pricer
from llmemu.core.errors import ConfigError
from llmemu.core.host import EngineProfile, load_engine
from llmemu.core.ops import BatchShape
from llmemu.core.planner import gemm
from llmemu.core.replica import build_replica
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.loading import load_model


def test_host_time_is_fixed_plus_per_sequence_plus_per_token():
    p = EngineProfile(name="t", iteration_s=1e-3, sequence_s=2e-6, token_s=1e-7)
    batch = BatchShape(prefill_chunks=((100, 0),), num_decode=10, decode_context=5000)
    # 11 sequences, 110 tokens: 1 ms + 11 x 2 us + 110 x 0.1 us
    assert p.host_s(batch) == pytest.approx(1e-3 + 22e-6 + 11e-6)


def test_the_default_profile_adds_nothing():
    assert PolicySpec().engine == "none"
    none = load_engine("none")
    assert none.host_s(BatchShape(num_decode=64, decode_context=64000)) == 0.0
    assert not none.sustained_clocks


def test_unknown_engine_lists_the_presets():
    with pytest.raises(ConfigError, match="trtllm"):
        load_engine("tensorrt")


def test_trtllm_iteration_is_the_kernels_plus_host_plus_sampler():
    model = load_model("llama-3.1-8b")
    system = load_system("a100x1")
    batch = BatchShape(num_decode=256, decode_context=256 * 1000, num_logits=256)
    trt = build_replica(model, system, PolicySpec(engine="trtllm")).engine.pricer
    assert trt.pricer.sustained  # the kernels at the sustained clock
    kernels = trt.inner.price(batch).duration_s
    profile = load_engine("trtllm")
    a100 = load_device("a100")
    # greedy sampling: 256 sequences x 128256 logits x bytes per logit at streaming bandwidth
    sampler = 256 * 128256 * profile.sampler_bytes_per_logit / (2.0e12 * a100.efficiency.memory)
    expected = kernels + profile.host_s(batch) + sampler
    assert trt.price(batch).duration_s == pytest.approx(expected, rel=1e-12)
    plain = build_replica(model, system, PolicySpec()).engine.pricer
    assert not plain.pricer.sustained
    assert plain.price(batch).duration_s < kernels  # isolated-kernel clocks are faster


def test_sustained_clock_slows_compute_bound_gemms_only():
    system = load_system("h100x1")
    clock = system.primary.device.efficiency.sustained_clock
    big, small = gemm("down", 8192, 14336, 4096, 2), gemm("down", 1, 14336, 4096, 2)
    overhead = system.primary.device.op_overhead_s
    isolated, loaded = Pricer(system, 2), Pricer(system, 2, sustained=True)
    compute_s = isolated.time(big, "h100") - overhead
    assert loaded.time(big, "h100") - overhead == pytest.approx(compute_s / clock)
    assert loaded.time(small, "h100") == isolated.time(small, "h100")  # memory-bound
