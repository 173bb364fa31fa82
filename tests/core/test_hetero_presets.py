"""Duplex and NeuPIMs presets: derived rates, `<system>-<N>` scaling, shared memory, and the
per-processor op counts a simulation reports."""

from __future__ import annotations

import pytest
import yaml

from llmemu.core.catalog import load_device, load_system, system_names


def test_logic_pim_rates_follow_duplex():
    """Duplex §VI / simulator: 4x the H100's 3.352 TB/s inside, compute for 8 Op/B."""
    pim = load_device("logic-pim")
    assert pim.internal_bytes_per_s == pytest.approx(4 * 3.352e12)
    assert pim.peak_flops["fp16"] == pytest.approx(8 * 4 * 3.352e12, rel=1e-3)
    bank = load_device("bank-pim")
    assert bank.peak_flops["fp16"] == pytest.approx(16 * 3.352e12, rel=1e-3)


def test_neupims_rates_follow_its_configs():
    """8 arrays x 128 x 128 MACs x 2 FLOP x 1 GHz = 262.1 TFLOP/s; 32 channels x 32 GB/s;
    32 x 32 banks x 16 multipliers x 2 FLOP x 1 GHz = 32.77 TFLOP/s of PIM. Algorithm 1 spends
    184 / 32 / 4 = 1.4375 cycles per token and head on K (a 184-cycle tile covers 32 tokens of
    4 heads) and (100 + 4 x 184) / 512 = 1.6328 on V (836 cycles per 512-token row), 3.0703 in
    all, for 2 x 128 x 2 = 512 bytes: 32 channels x 512 / 3.0703 = 5,336 B/cycle, 0.163 of
    32,768. Its fixed 100/4 + 184/2/4 + 836 = 884 cycles per request and head are 288 tokens."""
    npu, pim = load_device("neupims-npu"), load_device("neupims-pim")
    assert npu.peak_flops["fp16"] == pytest.approx(8 * 128 * 128 * 2 * 1e9)
    assert npu.memory_bytes_per_s == pytest.approx(32 * 32e9)
    assert pim.peak_flops["fp16"] == pytest.approx(32 * 32 * 16 * 2 * 1e9, rel=1e-3)
    assert pim.efficiency.memory == pytest.approx(32 * 512 / 3.0703 / 32768, abs=1e-3)
    assert pim.efficiency.attention_request_tokens == pytest.approx(884 / 3.0703, abs=0.5)


def test_duplex_n_is_n_devices_sharing_their_hbm():
    """duplex-4: TP 4, and the Logic-PIM adds no capacity: 4 x 80 GB x 0.9 = 288 GB."""
    system = load_system("duplex-4")
    assert system.tensor_parallel == 4
    assert [p.name for p in system.processors] == ["h100", "logic-pim"]
    assert system.memory_capacity_bytes == pytest.approx(288e9)
    assert "duplex-4" in system_names() and "neupims-8" in system_names()


def test_sixteen_devices_span_two_nodes():
    for name in ("duplex-16", "h100x16"):
        system = load_system(name)
        assert system.tensor_parallel == 16
        assert system.interconnect.bytes_per_s == pytest.approx(50e9)


def test_row_buffers_tell_npu_pim_from_neupims():
    assert not load_system("npu+pim-4").processors[1].concurrent_memory
    assert load_system("neupims-4").processors[1].concurrent_memory


def test_simulation_counts_ops_per_processor(tmp_path, cli_json):
    """64 Mixtral requests decoding on duplex-4 under opb: QKV of 64 rows (Op/B about 62)
    runs on the xPU in all 32 layers of every iteration, decode attention (Op/B about 4) on
    the Logic-PIM; and whichever processor runs it, experts run 32 times per iteration."""
    scenario = {
        "model": "mixtral-8x7b",
        "system": "duplex-4",
        "policy": {"routing": "opb"},
        "workload": {
            "requests": 64,
            "arrival": {"kind": "closed", "concurrency": 64},
            "input_tokens": {"kind": "constant", "value": 64},
            "output_tokens": {"kind": "constant", "value": 16},
        },
    }
    path = tmp_path / "duplex.yaml"
    path.write_text(yaml.safe_dump(scenario))
    result = cli_json("simulate", str(path))
    counts = {name: d["ops_by_kind"] for name, d in result["devices"].items()}
    layers = 32 * result["iterations"]
    assert counts["h100"]["qkv"] == layers
    assert counts["logic-pim"]["attn_decode"] == 32 * (result["iterations"] - 1)
    assert sum(c.get("experts", 0) for c in counts.values()) == layers
