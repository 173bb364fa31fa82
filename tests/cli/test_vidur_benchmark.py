"""sim_speed's case (b) against Vidur: the request list both sides replay, the attention
table written for Vidur, and the totals read back from each side's per-request files."""

from __future__ import annotations

import lzma

import pytest
from tests.benchmark_modules import load

vidur_setup = load("vidur_setup")
vidur_trace = load("vidur_trace")
vidur_side = load("vidur_side")


def test_committed_request_list_is_the_draw():
    """The file both simulators replay is what vidur_trace.py draws (rerun it if not)."""
    assert vidur_trace.read() == vidur_trace.draw()


def test_requests_are_cut_to_4096_tokens_by_the_prompt():
    requests = vidur_trace.read()
    assert len(requests) == 4000
    assert requests[0][0] == 0.0  # starts at its first arrival, as llmemu replays a trace
    assert max(i + o for _, i, o in requests) == 4096
    # Poisson 2 req/s: 3,999 gaps of mean 0.5 s; within 5 % (sd of the mean is 1.6 %)
    assert requests[-1][0] == pytest.approx(3999 * 0.5, rel=0.05)


def test_vidur_csv_has_the_trace_replay_columns(tmp_path):
    path = tmp_path / "trace.csv"
    vidur_trace.vidur_csv([(0.0, 1409, 82), (2.5, 1034, 61)], path)
    assert path.read_text().splitlines() == [
        "Date,Time,PromptTokenCount,CompletionTokenCount",
        "2023-08-21,0.0,1409,82",
        "2023-08-21,2.5,1034,61",
    ]


def test_decode_attention_is_bound_by_reading_the_kv_cache():
    # TP 2: 4 KV heads of 128 per GPU. 16 decodes over 1024 tokens read
    # 2 (K, V) * 16 * 1024 * 4 * 128 * 2 bytes = 33,554,432 B, and write-read 16 queries of
    # 32 heads: 2 * 16 * 32 * 128 * 2 = 262,144 B; at 2.0e12 * 0.821 B/s that is 20.600 us,
    # against 4 * 16 * 1024 * 128 * 32 = 268 MFLOP at 231.8 TFLOP/s = 1.158 us; + 6.4 us.
    expected_ms = (33_554_432 + 262_144) / (2.0e12 * 0.821) * 1e3 + 6.4e-3
    assert vidur_setup.attention_ms(2, 0, 1024, 16) == pytest.approx(expected_ms, rel=1e-9)


def test_long_prefill_attention_is_bound_by_compute():
    # TP 1, a 4096-token chunk after nothing: 4 * 4096 * 2048.5 * 128 * 64 FLOP = 274.9 GFLOP
    # at 312e12 * 0.743 FLOP/s = 1.186 ms, far above its 67 MB of K, V, Q and O.
    flops = 4 * 4096 * (0 + 4097 / 2) * 128 * 64
    expected_ms = flops / (312.0e12 * 0.743) * 1e3 + 6.4e-3
    assert vidur_setup.attention_ms(1, 4096, 0, 1) == pytest.approx(expected_ms, rel=1e-9)


def test_offline_dataset_is_a_hub_cache_entry(tmp_path):
    snapshot = vidur_setup.write_dataset(
        tmp_path, "org/name", {"sku": "a100_pairwise_nvlink"}, {"a.csv": "x,y\n1,2\n"}
    )
    root = tmp_path / "datasets--org--name"
    assert (root / "refs" / "main").read_text() == snapshot.name
    assert lzma.decompress((snapshot / "a.csv.xz").read_bytes()) == b"x,y\n1,2\n"


def test_totals_from_each_sides_request_files(tmp_path):
    ours = tmp_path / "requests.csv"
    ours.write_text(
        "id,arrival_s,first_scheduled_s,first_token_s,finish_s,prompt_tokens,generated,"
        "num_preemptions\n0,0.0,0.0,0.2,2.1,1409,82,0\n1,2.3,2.3,2.5,4.3,1034,61,0\n"
    )
    assert vidur_side.llmemu_totals(ours) == (2, 1409 + 1034, 82 + 61, 4.3)
    run = tmp_path / "metrics" / "2026-12-04_17-41-24"
    run.mkdir(parents=True)
    (run / "request_metrics.csv").write_text(
        "Request Id,request_num_prefill_tokens,request_num_decode_tokens\n0,1409,82\n1,1034,61\n"
    )
    log = "INFO simulator.py:79] Simulation ended at: 4.31s\n"
    assert vidur_side.vidur_totals(tmp_path / "metrics", log) == (2, 2443, 143, 4.31)
