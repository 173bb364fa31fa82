"""Hostile input against a real `llmemu serve` (its own process, loopback only): prints the
worst /health latency while each attack of issue 17 runs, then that the normal-load results
still hold (1,000 concurrent streams at speed 1 and 10 all complete; 800 cycled disconnects
leave nothing running and the KV cache empty), and optionally reruns the distributed fault
tests (scheduler, worker, Redis killed or frozen).

    .venv/bin/python benchmarks/hostile.py [--streams 1000] [--disconnects 800] [--distributed]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parents[1]
MODEL = "llama-3-8b"
SURROGATE = b'"\\ud800"'


def attacks() -> dict[str, tuple[str, bytes]]:
    chat = [{"role": "user", "content": "a"}] * 100_000
    prompt = {"model": MODEL, "prompt": " the", "max_tokens": 2000}
    return {
        "10,000 stop strings (109 KB)": (
            "/v1/completions",
            json.dumps({**prompt, "stop": [f"zz{i}" for i in range(10_000)]}).encode(),
        ),  # fmt: skip
        "100,000 stop strings": (
            "/v1/completions",
            json.dumps({**prompt, "stop": [f"zz{i}" for i in range(100_000)]}).encode(),
        ),  # fmt: skip
        "6 MB prompt": (
            "/v1/completions",
            json.dumps({"prompt": " hello world" * 500_000}).encode(),
        ),  # fmt: skip
        "6 MB /tokenize": ("/tokenize", json.dumps({"prompt": " hello world" * 500_000}).encode()),
        "chat of 100,000 messages": (
            "/v1/chat/completions",
            json.dumps({"messages": chat}).encode(),
        ),  # fmt: skip
        "chat of 2,049 messages": (
            "/v1/chat/completions",
            json.dumps({"messages": chat[:2049]}).encode(),
        ),  # fmt: skip
        "lone surrogate prompt": ("/v1/completions", b'{"prompt": ' + SURROGATE + b"}"),
        "100,000 nested lists": ("/v1/completions", b"[" * 100_000),
        "60,000 token ids to /detokenize": (
            "/detokenize",
            json.dumps({"tokens": [1] * 60_000}).encode(),
        ),  # fmt: skip
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(speed: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "llmemu.cli.main", "serve", "--model", MODEL, "--system", "h100x1", "--speed", str(speed), "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start")


class Probe:
    """GET /health every 10 ms from its own thread and connection (the load's client loop
    is busy with its streams); the worst latency since the last `reset`."""

    def __init__(self, url: str) -> None:
        self.url, self.worst_s, self.failures, self.stopping = url, 0.0, 0, False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as c:
            while not self.stopping:
                start = time.perf_counter()
                self.failures += c.get("/health").status_code != 200
                self.worst_s = max(self.worst_s, time.perf_counter() - start)
                time.sleep(0.01)

    def reset(self) -> float:
        worst, self.worst_s = self.worst_s, 0.0
        return worst

    def stop(self) -> None:
        self.stopping = True
        self.thread.join()


async def hostile(url: str) -> None:
    probe = Probe(url)
    async with aiohttp.ClientSession() as s:
        await asyncio.sleep(0.5)
        print(f"  {'attack':34} {'status':>6} {'seconds':>8} {'worst /health ms':>17}")
        for name, (path, body) in attacks().items():
            probe.reset()
            start = time.perf_counter()
            async with s.post(f"{url}{path}", data=body, headers={"content-type": "application/json"}) as r:  # fmt: skip
                await r.read()
            await asyncio.sleep(0.05)
            print(f"  {name:34} {r.status:>6} {time.perf_counter() - start:>8.2f} {probe.reset() * 1e3:>17.1f}")  # fmt: skip
    probe.stop()


async def stream(s: aiohttp.ClientSession, url: str, max_tokens: int, leave: bool) -> str:
    body = {"model": MODEL, "prompt": " the model", "max_tokens": max_tokens, "ignore_eos": True, "stream": True}  # fmt: skip
    async with s.post(f"{url}/v1/completions", json=body) as r:
        if r.status != 200:
            return f"http {r.status}"
        async for line in r.content:
            if leave and line.startswith(b"data: {"):
                r.close()
                return "left"
            if line.strip() == b"data: [DONE]":
                return "done"
    return "cut"


async def load(url: str, streams: int, max_tokens: int) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    probe = Probe(url)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as s:  # fmt: skip
        start = time.perf_counter()
        results = await asyncio.gather(*(stream(s, url, max_tokens, False) for _ in range(streams)))
        wall = time.perf_counter() - start
    probe.stop()
    done = results.count("done")
    print(f"  {streams} streams x {max_tokens} tokens: {done} complete in {wall:.1f} s; worst /health {probe.worst_s * 1e3:.0f} ms")  # fmt: skip


async def disconnects(url: str, count: int) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
        for start in range(0, count, 100):
            await asyncio.gather(*(stream(s, url, 4000, True) for _ in range(min(100, count - start))))  # fmt: skip
        await asyncio.sleep(1.0)
        async with s.get(f"{url}/metrics") as r:
            text = await r.text()
    gauges = {k: _gauge(text, k) for k in ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc")}  # fmt: skip
    print(f"  {count} cycled disconnects, then: " + ", ".join(f"{k} {v:g}" for k, v in gauges.items()))  # fmt: skip


def _gauge(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--streams", type=int, default=1000)
    p.add_argument("--stream-tokens", type=int, default=64)
    p.add_argument("--disconnects", type=int, default=800)
    p.add_argument("--distributed", action="store_true", help="also run the distributed fault tests")  # fmt: skip
    args = p.parse_args()
    for speed in (1.0, 10.0):
        proc, url = start_server(speed)
        try:
            print(f"llmemu serve at speed {speed:g}:")
            if speed == 1.0:
                asyncio.run(hostile(url))
            asyncio.run(load(url, args.streams, args.stream_tokens))
            if speed == 10.0:
                asyncio.run(disconnects(url, args.disconnects))
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=30)
        log = err.decode(errors="replace")
        print(f"  server log: {log.count('Traceback')} tracebacks")
        if "Traceback" in log:
            print("    " + "\n    ".join(log[log.index("Traceback") :].splitlines()[-6:]))
    if args.distributed:
        tests = "tests/service/test_distributed_deployment.py"
        env = {**os.environ, "PYTHONPATH": str(ROOT / "services")}
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", tests, "-k", "silent or redis or restarting"], cwd=ROOT, env=env, capture_output=True, text=True)  # fmt: skip
        print("distributed faults (scheduler restart, silent worker, Redis down):", run.stdout.strip().splitlines()[-1])  # fmt: skip


if __name__ == "__main__":
    main()
