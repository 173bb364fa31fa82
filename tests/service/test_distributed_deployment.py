"""The distributed deployment with real processes: redis-server, Prometheus, two gateways, two
scheduler replicas (Duplex, 4-node edge), six device workers (scripts/up-local.sh).

Order matters: the faults run last, each leaving the stack healthy again."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time

import httpx
import pytest
from dist_stack import Stack, have_tools
from promql_sources import dashboard_queries, feature_gated, idle_feature, idle_series

from llmemu.core.routing import ROUTERS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not have_tools(), reason="needs redis-server and prometheus (scripts/ci-system-deps.sh)"
    ),  # fmt: skip
]
MODEL = "llama-3-8b"
SPEED = 10.0
# Duplex routing lives in its own module; without it the stack still runs, all on the xPU.
ROUTING = "" if "opb" in ROUTERS else "policy.routing=xpu-only"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("stack"), speed=SPEED, edge=True, overrides=ROUTING)
    try:
        up = s.sh("up", check=False)
        assert up.returncode == 0, up.stderr + s.logs()
        yield s
    finally:
        s.sh("down", check=False)


async def _stream(client: httpx.AsyncClient, url: str, max_tokens: int, model: str = MODEL) -> dict:
    body = {"model": model, "prompt": "the quick brown fox", "max_tokens": max_tokens,
            "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}}  # fmt: skip
    out = {"status": None, "tokens": 0, "finish": None, "error": None, "done": False, "usage": None}
    try:
        async with client.stream("POST", f"{url}/v1/completions", json=body) as r:
            out["status"] = r.status_code
            if r.status_code != 200:
                out["error"] = (await r.aread()).decode()
                return out
            async for line in r.aiter_lines():
                if line == "data: [DONE]":
                    out["done"] = True
                elif line.startswith("data: "):
                    chunk = json.loads(line[6:])
                    if "error" in chunk:
                        out["error"] = chunk["error"]
                    elif not chunk["choices"]:  # the usage chunk
                        out["usage"] = chunk["usage"]["completion_tokens"]
                    else:
                        out["tokens"] += 1
                        out["finish"] = chunk["choices"][0]["finish_reason"] or out["finish"]
    except httpx.HTTPError as exc:
        out["error"] = f"transport: {exc!r}"
    return out


def _ended_explicitly(r: dict, max_tokens: int) -> bool:
    if r["status"] != 200:
        return r["error"] is not None  # an error answer (e.g. 503 while no replica is up)
    if r["error"] is not None:
        return r["done"]  # an error event in the stream, then [DONE]
    # Chunks may carry more than one token (a client that fell behind gets them together);
    # the usage chunk counts the tokens the client received.
    return r["done"] and r["finish"] == "length" and r["usage"] == max_tokens


def test_restarting_the_scheduler_loses_no_request_and_prometheus_scrapes_all(stack):
    gateway = stack.url("gateway")
    lengths = [20 + (i * 7) % 41 for i in range(100)]  # 20..60 tokens

    def restart_scheduler():
        time.sleep(0.6)
        stack.sh("kill", "scheduler")
        stack.sh("start", "scheduler")

    async def run():
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            return await asyncio.gather(*(_stream(client, gateway, n) for n in lengths))

    killer = threading.Thread(target=restart_scheduler)
    killer.start()
    results = asyncio.run(run())
    killer.join()
    bad = [(n, r) for n, r in zip(lengths, results, strict=True) if not _ended_explicitly(r, n)]
    # On failure the processes' logs come with it: a hang seen once in CI (1 of 100, after
    # its 200, no event for 60 s) could not be reproduced to look at.
    assert not bad, (
        f"{len(bad)} requests did not end with their tokens or an error: {bad[:3]}\n" + stack.logs()
    )
    completed = sum(r["error"] is None for r in results)
    assert completed > 0, "every request failed: nothing was re-delivered"

    def all_up():
        up = stack.promql("up")
        return len(up) == 10 and all(s["value"][1] == "1" for s in up) and up

    # 2 gateways, 2 schedulers, 2 Duplex workers and 4 edge nodes.
    stack.wait_for(all_up, 30, "every target up == 1")


def test_every_dashboard_query_returns_data(stack):
    async def edge_traffic():
        async with httpx.AsyncClient(timeout=60) as client:
            return await asyncio.gather(*(_stream(client, stack.url("gateway-edge"), 3, "llama-2-7b") for _ in range(2)))  # fmt: skip

    assert all(r["finish"] == "length" for r in asyncio.run(edge_traffic()))
    queries = dashboard_queries(MODEL)
    # Dashboards watch a deployment under load: ratios such as the 5xx share or the mean
    # inter-token latency divide by a rate (> 0) over the last minute, so requests keep
    # flowing through both gateways meanwhile, each producing every per-token and per-request
    # observation (an inter-token gap, a TPOT, freed KV blocks).
    stop = threading.Event()
    load = threading.Thread(target=_keep_busy, args=(stack, stop))
    load.start()
    try:
        stack.wait_for(lambda: _load_scraped(stack), 60, "two scrapes of the load on every target")

        def answers(q: str) -> bool:
            if stack.promql(q):
                return True
            return idle_feature(q) and all(stack.promql(n) for n in idle_series(q))

        def empty():
            return [(s, q) for s, q in queries if not feature_gated(q) and not answers(q)]

        missing = empty()
        deadline = time.monotonic() + 30
        while missing and time.monotonic() < deadline:  # a series created by the load itself
            time.sleep(1)  # one scrape interval
            missing = empty()
    finally:
        stop.set()
        load.join()
    assert not missing, f"{len(missing)} of {len(queries)} queries return no data: {missing}"
    assert len(queries) > 200


def test_engine_series_are_exported_by_the_schedulers_only(stack):
    # The gateways build the same ServingMetrics but expose only what they own (no double
    # counting when a dashboard sums over every target); 2 scheduler replicas.
    for name in ("vllm:iteration_tokens_total_count", "vllm:kv_block_lifetime_seconds_count",
                 "vllm:kv_block_reuse_gap_seconds_count", "vllm:estimated_flops_per_gpu_total"):  # fmt: skip
        query = f"count by (job, instance) ({name})"
        by_target = stack.wait_for(lambda q=query: len(r := stack.promql(q)) >= 2 and r, 10, name)  # both scraped  # fmt: skip
        assert {s["metric"]["job"] for s in by_target} == {"scheduler"}, name
        assert len(by_target) == 2, name


LOAD_COUNTERS = ("http_requests_total", "vllm:request_success_total",
                 "vllm:inter_token_latency_seconds_count",
                 "vllm:request_time_per_output_token_seconds_count",
                 "vllm:kv_block_lifetime_seconds_count")  # fmt: skip
"""What each load request adds to on the targets that export it (gateways, schedulers)."""


def _load_scraped(stack: Stack) -> bool:
    """Every target exporting a LOAD_COUNTERS series shows it rising over the last minute: two
    scrapes have seen the load, so a `rate(...[1m])` of it is above zero."""
    for name in LOAD_COUNTERS:
        targets = stack.promql(f"count by (instance) ({name})")
        rising = stack.promql(f"sum by (instance) (rate({name}[1m])) > 0")
        if not targets or len(rising) != len(targets):
            return False
    return True


def _keep_busy(stack: Stack, stop: threading.Event) -> None:
    targets = [(stack.url("gateway"), MODEL), (stack.url("gateway-edge"), "llama-2-7b")]
    with httpx.Client(timeout=30) as client:
        while not stop.wait(0.2):
            for url, model in targets:
                # Two tokens: one inter-token gap and a time per output token each (one token
                # has neither, so those rates would rest on older traffic, which ages out).
                body = {"model": model, "prompt": "hi", "max_tokens": 2, "ignore_eos": True}
                client.post(f"{url}/v1/completions", json=body)


def test_a_silent_device_worker_fails_in_flight_requests_with_503_and_recovers(stack):
    gateway, pim = stack.url("gateway"), stack.pid("worker-pim")

    async def run():
        async with httpx.AsyncClient(timeout=30) as client:
            task = asyncio.create_task(_stream(client, gateway, 5000))
            await asyncio.sleep(0.5)
            os.kill(pim, signal.SIGSTOP)
            stopped = time.monotonic()
            result = await task
            return result, time.monotonic() - stopped

    try:
        result, after_s = asyncio.run(run())
        assert result["error"]["code"] == 503 and result["done"], result
        # worker_timeout_s is 0.5 s; on a loaded 2-core host the scheduler's and the gateway's
        # event loops add up to a second more (1.19 s seen at load 3.5), far under the 30 s
        # a client would wait on a stall that nobody noticed.
        assert after_s < 2.0, f"the failure took {after_s:.2f} s to reach the client"
        health = httpx.get(f"{stack.url('scheduler')}/health", timeout=5)
        assert health.status_code == 503
        refused = httpx.post(f"{gateway}/v1/completions", json={"model": MODEL, "prompt": "hi", "max_tokens": 2}, timeout=10)  # fmt: skip
        assert refused.status_code == 503
    finally:
        os.kill(pim, signal.SIGCONT)
    ok = stack.wait_for(lambda: httpx.get(f"{stack.url('scheduler')}/health", timeout=5).status_code == 200, 10, "scheduler healthy again")  # fmt: skip
    assert ok

    def served():  # the gateway learns of the recovery from the replica's next report
        r = httpx.post(f"{gateway}/v1/completions", json={"model": MODEL, "prompt": "hi", "max_tokens": 2}, timeout=10)  # fmt: skip
        return r.status_code == 200

    assert stack.wait_for(served, 5, "the gateway to admit again")


def test_gateways_answer_503_without_redis_and_recover_by_themselves(stack):
    gateway = stack.url("gateway")
    body = {"model": MODEL, "prompt": "hi", "max_tokens": 2}
    stack.sh("kill", "redis")
    down = stack.wait_for(lambda: (r := httpx.post(f"{gateway}/v1/completions", json=body, timeout=10)).status_code == 503 and r, 5, "a 503")  # fmt: skip
    assert down.json()["error"]["code"] == 503
    stack.sh("start", "redis")

    def served():
        r = httpx.post(f"{gateway}/v1/completions", json=body, timeout=10)
        return r.status_code == 200 and r

    assert stack.wait_for(served, 15, "the gateway to serve again").json()["usage"]["completion_tokens"] == 2  # fmt: skip
