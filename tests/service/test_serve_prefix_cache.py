"""`llmemu serve` with policy.prefix_caching: block keys are chained over the real prompt
token ids, so the same prompt sent twice hits and its second prefill computes only the rest."""

from __future__ import annotations

import pytest
from serve_helpers import in_process, sample

from llmemu.cli.files import load_scenario_data
from llmemu.core.ops import BatchShape
from llmemu.core.replica import build_replica
from llmemu.service.api.app import create_app
from llmemu.service.api.settings import ServeSettings
from llmemu.service.live.emulation import build_emulation

pytestmark = pytest.mark.anyio
PROMPT = [(7 * i) % 5000 + 100 for i in range(2000)]  # 2,000 token ids, no tokenizer involved


@pytest.fixture
def anyio_backend():
    return "asyncio"


def _loaded(caching: bool, cluster: dict | None = None):
    data = {"model": "llama-3-8b", "system": "h100x1", "policy": {"prefix_caching": caching}}
    if cluster is not None:
        data["cluster"] = cluster
    return load_scenario_data(data, None, [], "test")


def _app(loaded):
    settings = ServeSettings(model="llama-3-8b", system="h100x1", speed=50.0)
    return create_app(settings, emulation=build_emulation(loaded, settings))


async def _ttfts(app, prompts: list[list[int]]) -> tuple[list[float], str]:
    """Each prompt sent after the previous answer; its emulated TTFT from the histogram sum."""
    ttfts, before = [], 0.0
    async with in_process(app) as client:
        for prompt in prompts:
            body = {"model": "llama-3-8b", "prompt": prompt, "max_tokens": 2}
            assert (await client.post("/v1/completions", json=body)).status_code == 200
            text = (await client.get("/metrics")).text
            total = sample(text, "vllm:time_to_first_token_seconds_sum")
            ttfts.append(total - before)
            before = total
    return ttfts, text


async def test_the_same_prompt_twice_hits_its_full_blocks():
    loaded = _loaded(True)
    block = loaded.spec.policy.block_size
    cached = (2000 - 1) // block * block  # full blocks, the last prompt token always computed
    assert block == 16 and cached == 1984
    (first, second), text = await _ttfts(_app(loaded), [PROMPT, PROMPT])
    # The two prefills as the planner prices them: all 2,000 tokens, then the 16 not cached
    # attending to the 1,984 cached ones. Idle engine: TTFT is the prefill iteration.
    pricer = build_replica(loaded.model, loaded.system, loaded.spec.policy).engine.pricer
    full = pricer.price(pricer.with_routing(BatchShape(((2000, 0),), 0, 0, 1))).duration_s
    rest = pricer.price(pricer.with_routing(BatchShape(((2000 - cached, cached),), 0, 0, 1))).duration_s  # fmt: skip
    assert first == pytest.approx(full, rel=1e-6)
    assert second == pytest.approx(rest, rel=1e-6)
    assert first - second == pytest.approx(full - rest, rel=1e-6) and full > 5 * rest
    assert sample(text, "vllm:prefix_cache_queries_total") == 2 * 2000
    assert sample(text, "vllm:prefix_cache_hits_total") == cached
    assert sample(text, "vllm:prompt_tokens_by_source_total", source="local_compute") == 4000 - cached  # fmt: skip
    assert sample(text, "vllm:cache_config_info", enable_prefix_caching="True") == 1


async def test_different_prompts_and_caching_off_do_not_hit():
    other = [t + 1 for t in PROMPT]  # differs in the first block: no block key in common
    (_, _), text = await _ttfts(_app(_loaded(True)), [PROMPT, other])
    assert sample(text, "vllm:prefix_cache_hits_total") == 0
    (first, second), text = await _ttfts(_app(_loaded(False)), [PROMPT, PROMPT])
    assert sample(text, "vllm:prefix_cache_hits_total") == 0
    assert second == pytest.approx(first, rel=1e-9)


async def test_prefix_affinity_sends_the_repeat_where_its_blocks_are():
    app = _app(_loaded(True, {"replicas": 3, "router": "prefix-affinity"}))
    (_, _, _), text = await _ttfts(app, [PROMPT, [t + 1 for t in PROMPT], PROMPT])
    decisions = app.state.gateway.transport.decisions
    # The third prompt finds its 124 blocks on the replica that served the first.
    assert sorted(decisions.values()) == [1, 2] and sample(text, "vllm:prefix_cache_hits_total") == 1984  # fmt: skip
