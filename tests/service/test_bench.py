"""`llmemu bench`: histogram quantiles as Prometheus computes them, the difference of two
scrapes, and a short run against a live server."""

from __future__ import annotations

import json
import math

import pytest
from serve_helpers import make_app, served

from llmemu.service.bench.load import prompt_text
from llmemu.service.bench.report import emulated_summary, quantile
from llmemu.service.text.tokenizer import BuiltinTokenizer, vocabulary_words


def test_quantile_interpolates_inside_the_bucket():
    buckets = [(1.0, 2.0), (2.0, 6.0), (math.inf, 8.0)]
    assert quantile(0.5, buckets) == 1.5  # rank 4 is 2/4 of the way through (1, 2]
    assert quantile(0.25, buckets) == 1.0  # rank 2 ends the first bucket
    assert quantile(0.95, buckets) == 2.0  # in +Inf: the highest finite bound
    assert math.isnan(quantile(0.5, []))


def _scrape(count: float, total: float, low: float) -> str:
    name = "vllm:time_to_first_token_seconds"
    return (
        f"# TYPE {name} histogram\n"
        f'{name}_bucket{{le="0.01"}} {low}\n{name}_bucket{{le="0.1"}} {count}\n'
        f'{name}_bucket{{le="+Inf"}} {count}\n{name}_count {count}\n{name}_sum {total}\n'
    )


def test_emulated_summary_counts_only_what_happened_between_scrapes():
    before, after = _scrape(10, 0.5, 10), _scrape(14, 0.7, 10)
    ttft = emulated_summary(before, after)["ttft_s"]
    assert ttft["mean"] == pytest.approx(0.2 / 4)  # (0.7 - 0.5) s over 4 new requests
    assert ttft["p50"] == pytest.approx(0.01 + 0.09 * 0.5)  # all 4 in (0.01, 0.1]


def test_prompts_have_the_asked_token_count():
    tok = BuiltinTokenizer()
    words = vocabulary_words()
    assert [tok.count(prompt_text(words, n, salt=n)) for n in (1, 7, 300)] == [1, 7, 300]


def test_bench_against_a_live_server(cli):
    with served(make_app(speed=20)) as url:
        code, out, err = cli("bench", "--url", url, "--concurrency", "4", "--requests", "12",
                             "--input-tokens", "32", "--output-tokens", "8", "--json")  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    client, emulated = report["client"], report["emulated"]
    assert (client["completed"], client["errors"]) == (12, 0)
    assert report["speed"] == 20
    assert set(emulated) == {"ttft_s", "itl_s", "tpot_s", "e2e_s"}
    # exact records of the 12 requests, 7 gaps each; no lost record
    assert report["emulated_source"] == "exact" and report["emulated_requests"] == 12
    assert report["missed"] == {"requests": 0, "tokens": 0, "iterations": 0}
    # 12 requests x 8 tokens over the run, per emulated second (wall x 20)
    assert client["output_tokens_per_s"] == pytest.approx(96 / (client["wall_s"] * 20))
