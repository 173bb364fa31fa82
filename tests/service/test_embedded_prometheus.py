"""A real Prometheus scraping `llmemu serve` (the embedded default) under load: every panel
query of our dashboards and of vLLM's returns data, but for the listed ones, each with the
reason the embedded server cannot feed it."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import httpx
import pytest
from promql_sources import REPO, dashboard_queries, idle_feature, idle_series
from serve_helpers import free_port
from serve_process import serving

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not shutil.which("prometheus"), reason="needs prometheus (scripts/ci-system-deps.sh)"
    ),  # fmt: skip
]
MODEL = "llama-3-8b"
WORKER_ONLY = ("llmemu_allreduce_", "llmemu_link_", "llmemu_memory_", "llmemu_disk_",
               "llmemu_worker_")  # fmt: skip
"""What only a device worker sees (metrics/device.py): all-reduce time by algorithm, link
bytes, the edge memory window, resident bytes, disk stalls, worker iterations."""
EMPTY_REASONS = {
    "edge-worker series": "exported by the distributed deployment's device workers only (metrics/device.py)",  # fmt: skip
}


def expected_empty(expr: str) -> str | None:
    """Why the embedded server cannot feed `expr`, or None when it must answer."""
    if any(prefix in expr for prefix in WORKER_ONLY):
        return "edge-worker series"
    return None


def promql(base: str, expr: str) -> list:
    query = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{base}/api/v1/query?{query}", timeout=10) as r:
        body = json.load(r)
    assert body["status"] == "success", (expr, body)
    return body["data"]["result"]


def start_prometheus(tmp: Path, target: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    config = tmp / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: ['{REPO / 'dashboards' / 'rules.yml'}']\n"
        f"scrape_configs: [{{job_name: llmemu, static_configs: [{{targets: ['{target}']}}]}}]\n"
    )
    with (tmp / "prometheus.log").open("w") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=log,
        )  # fmt: skip
    return proc, f"http://127.0.0.1:{port}"


def keep_busy(url: str, stop: threading.Event) -> None:
    with httpx.Client(timeout=30) as client:
        while not stop.wait(0.2):
            # Two tokens: one inter-token gap and a time per output token each.
            for stream in (False, True):
                body = {"prompt": "hi", "max_tokens": 2, "ignore_eos": True, "stream": stream}
                client.post(f"{url}/v1/completions", json=body)


def wait_for(check, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while not (got := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)
    return got


def test_every_panel_the_embedded_server_can_feed_returns_data(tmp_path):
    queries = dashboard_queries(MODEL)
    flags = ("--model", MODEL, "--system", "h100x1", "--speed", "10")
    with serving(*flags) as url:
        prom, base = start_prometheus(tmp_path, url.removeprefix("http://"))
        stop = threading.Event()
        load = threading.Thread(target=keep_busy, args=(url, stop))
        load.start()
        try:
            wait_for(lambda: _ready(base), 60, "Prometheus up and two scrapes of the load")

            def answers(q: str) -> bool:
                if promql(base, q):
                    return True
                return idle_feature(q) and all(promql(base, n) for n in idle_series(q))

            def empty() -> list[tuple[str, str]]:
                return [(s, q) for s, q in queries if not expected_empty(q) and not answers(q)]

            missing = empty()
            deadline = time.monotonic() + 20
            while missing and time.monotonic() < deadline:  # series the load creates late
                time.sleep(1)
                missing = empty()
            listed = [q for _, q in queries if expected_empty(q)]
            assert all(not promql(base, q) for q in listed), "a listed query answers: unlist it"
        finally:
            stop.set()
            load.join()
            prom.terminate()
            prom.wait(timeout=20)
    assert not missing, f"{len(missing)} of {len(queries)} queries return no data: {missing}"
    assert len(listed) == 6  # the edge dashboard's worker panels


def _ready(base: str) -> bool:
    try:
        rising = promql(base, "sum(rate(vllm:request_success_total[1m])) > 0")
        ops = promql(base, "sum(rate(llmemu_op_flops_total[1m])) > 0")
    except OSError:
        return False
    return bool(rising and ops)
