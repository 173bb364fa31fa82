"""Per-iteration overhead of the distributed mode over the embedded one (host wall time).

Runs the same decode iterations of llama-3-8b on one Duplex device (`opb` routing: the xPU
and the Logic-PIM both get ops) through (a) the embedded pricer and (b) RemotePlanPricer
calling two real device-worker processes over HTTP on this machine, and reports the median
and p99 wall time of one iteration's pricing. The Redis hop (one stream entry per iteration
per gateway) is measured separately: XADD + XREAD round trip of one iteration's events.

    .venv/bin/python benchmarks/distributed_overhead.py [--iterations 300]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from llmemu.core.catalog import load_system
from llmemu.core.ops import BatchShape
from llmemu.core.remote_pricing import RemotePlanPricer
from llmemu.core.replica import build_replica
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.loading import load_model
from llmemu.service.distributed.device_client import WorkerPool

REPO = Path(__file__).resolve().parents[1]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _timed(pricer, batches) -> list[float]:
    out = []
    for batch in batches:
        t0 = time.perf_counter()
        pricer.price(batch)
        out.append(time.perf_counter() - t0)
    return out


def _summary(name: str, xs: list[float]) -> str:
    xs = sorted(xs)
    p99 = xs[int(0.99 * (len(xs) - 1))]
    return f"{name:<34} median {statistics.median(xs) * 1e3:7.3f} ms   p99 {p99 * 1e3:7.3f} ms"


def _redis_round_trip(n: int) -> list[float] | None:
    import redis

    port = _port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)  # fmt: skip
    try:
        r = redis.Redis(port=port)
        for _ in range(50):
            try:
                r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.1)
        body = {"e": '{"cmpl-x":[{"seq_id":"cmpl-x-0","generated":1,"time_s":1.0}]}' * 32}
        out, last = [], "0"
        for _ in range(n):
            t0 = time.perf_counter()
            r.xadd("bench", body)
            got = r.xread({"bench": last}, count=1)
            last = got[0][1][0][0]
            out.append(time.perf_counter() - t0)
        return out
    finally:
        proc.terminate()
        proc.wait()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--iterations", type=int, default=300)
    args = p.parse_args()
    model, system = load_model("llama-3-8b"), load_system("duplex")
    policy = PolicySpec(routing="opb", fuse_iterations=False)
    batches = [BatchShape(num_decode=64, decode_context=64 * (500 + i), num_logits=64) for i in range(args.iterations)]  # fmt: skip
    embedded = build_replica(model, system, policy).engine.pricer
    ports = {"h100": _port(), "logic-pim": _port()}
    env = {**os.environ, "LLMEMU_WORKER_MODEL": "llama-3-8b", "LLMEMU_WORKER_SYSTEM": "duplex",
           "LLMEMU_WORKER_OVERRIDES": '["policy.routing=opb"]'}  # fmt: skip
    procs = [
        subprocess.Popen(
            [sys.executable, str(REPO / "device-workers" / "main.py")],
            env={**env, "LLMEMU_WORKER_PROCESSOR": proc, "LLMEMU_WORKER_PORT": str(port)},
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for proc, port in ports.items()
    ]
    try:
        for port in ports.values():
            for _ in range(200):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
        pool = WorkerPool({p: [f"http://127.0.0.1:{port}"] for p, port in ports.items()}, timeout_s=5)  # fmt: skip
        remote = RemotePlanPricer(build_replica(model, system, policy).engine.pricer, pool)
        _timed(embedded, batches[:20]), _timed(remote, batches[:20])  # warm up
        a, b = _timed(embedded, batches), _timed(remote, batches)
        print(f"llama-3-8b on duplex (opb routing), 64 decodes, {args.iterations} iterations")
        print(_summary("embedded (in-process pricing)", a))
        print(_summary("distributed (2 device workers, HTTP)", b))
        print(f"{'overhead per iteration':<34} median {(statistics.median(b) - statistics.median(a)) * 1e3:7.3f} ms")  # fmt: skip
        hop = _redis_round_trip(args.iterations)
        if hop:
            print(_summary("redis XADD+XREAD of 1 event batch", hop))
        pool.close()
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
