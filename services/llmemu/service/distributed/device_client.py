"""The scheduler's side of the device workers: one HTTP call per worker per iteration.

A processor may have several workers (one per tensor-parallel device, e.g. edge nodes): each
prices its shard, and an op takes as long as the slowest shard. A worker that does not answer
within `timeout_s` (or answers an error) is down: the call raises DeviceUnavailable, which
fails the iteration's requests explicitly; `probe()` lets the scheduler notice a silent worker
between iterations too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from llmemu.core.errors import ConfigError
from llmemu.core.ops import Op
from llmemu.core.remote_pricing import OpCall

log = logging.getLogger("llmemu.scheduler")


class DeviceUnavailable(RuntimeError):
    """A device worker did not answer; the replica cannot run iterations until it does.
    Its message reaches clients, so it names the worker by processor and node, never by
    address (the address and the cause go to the log)."""

    status = 503  # what the requests it fails end with (SchedulerService reads it)


def parse_workers(items: list[str]) -> dict[str, list[str]]:
    """`processor=URL` items -> {processor: [URL, ...]} in the order given (node order)."""
    workers: dict[str, list[str]] = {}
    for item in items:
        proc, sep, url = item.partition("=")
        if not sep or not proc or not url.startswith(("http://", "https://")):
            raise ConfigError(f"worker {item!r}: expected processor=http://host:port")
        workers.setdefault(proc, []).append(url.rstrip("/"))
    return workers


def _wire(op: Op, layers: int) -> dict:
    return {
        "name": op.name, "kind": str(op.kind), "flops": op.flops, "bytes": op.bytes,
        "net_bytes": op.net_bytes, "tokens": op.tokens, "payload_bytes": op.payload_bytes,
        "weight_bytes": op.weight_bytes, "expert_tokens": list(op.expert_tokens), "layers": layers,
        "context_tokens": op.context_tokens,
    }  # fmt: skip


class WorkerPool:
    def __init__(
        self,
        workers: dict[str, list[str]],
        *,
        timeout_s: float,
        kv_bytes: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.workers = workers
        self.kv_bytes = kv_bytes
        self._urls = [url for urls in workers.values() for url in urls]
        self._client = httpx.Client(timeout=timeout_s)
        self._threads = ThreadPoolExecutor(max_workers=max(1, len(self._urls)))
        self.iteration = 0

    def check(self, processors: list[str]) -> None:
        missing = [p for p in processors if p not in self.workers]
        if missing:
            raise ConfigError(
                f"no device worker for processor(s) {', '.join(missing)}; add "
                f"workers={missing[0]}=http://host:port (one per processor, or one per node)"
            )

    def __call__(self, by_proc: dict[str, list[OpCall]]) -> dict[str, list[float]]:
        """The RemotePlanPricer executor: every worker of every processor, concurrently."""
        kv = self.kv_bytes()
        jobs = []
        for proc, calls in by_proc.items():
            body = {"iteration": self.iteration, "processor": proc, "kv_bytes": kv,
                    "ops": [_wire(op, n) for op, n in calls]}  # fmt: skip
            for node, url in enumerate(self.workers[proc]):
                jobs.append((proc, url, self._threads.submit(self._post, f"{proc}#{node}", url, body)))  # fmt: skip
        self.iteration += 1
        times: dict[str, list[float]] = {}
        for proc, _url, future in jobs:
            got = future.result()
            have = times.get(proc)
            times[proc] = got if have is None else [max(a, b) for a, b in zip(have, got, strict=True)]  # fmt: skip
        return times

    def _post(self, label: str, url: str, body: dict) -> list[float]:
        try:
            response = self._client.post(f"{url}/v1/execute", json=body)
            response.raise_for_status()
            return response.json()["times_s"]
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            log.warning("device worker %s at %s did not answer: %r", label, url, exc)
            raise DeviceUnavailable(f"device worker {label} did not answer ({type(exc).__name__})") from exc  # fmt: skip

    def probe(self) -> str | None:
        """None if every worker answers /health in time, else why not (the first one)."""
        labels = [f"{proc}#{node}" for proc, urls in self.workers.items() for node in range(len(urls))]  # fmt: skip
        futures = [(url, self._threads.submit(self._client.get, f"{url}/health")) for url in self._urls]  # fmt: skip
        problem = None
        for label, (url, future) in zip(labels, futures, strict=True):
            try:
                future.result().raise_for_status()
            except httpx.HTTPError as exc:
                log.warning("device worker %s at %s is not answering: %r", label, url, exc)
                problem = problem or f"device worker {label} is not answering ({type(exc).__name__})"  # fmt: skip
        return problem

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._client.close()
