"""`/dashboard` in headless Chromium opened after a load ran with no page open: the server
kept the history, every chart is drawn with data, and a screenshot is written (to
$LLMEMU_SCREENSHOT_DIR if set, else the test's tmp dir)."""

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

CHARTS = ("rate", "tokens", "ttft", "itl", "queue", "kv", "util", "routing", "lag")


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run must install Debian's chromium")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server():
    port = _free_port()
    cmd = [sys.executable, "-m", "llmemu.cli.main", "serve", "--model", "llama-3-8b",
           "--system", "h100x1", "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("llmemu serve did not become healthy")
        yield url
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def _load(url: str, stop: threading.Event) -> None:
    body = {"model": "llama-3-8b", "prompt": "hello " * 300, "max_tokens": 48}
    with httpx.Client(base_url=url, timeout=30) as client:
        while not stop.is_set():
            assert client.post("/v1/completions", json=body).status_code == 200


def _headless(chromium: str, *args: str) -> str:
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--virtual-time-budget=3000", *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout


@pytest.mark.slow
def test_dashboard_opened_after_a_load_draws_its_history(server: str, tmp_path: Path) -> None:
    chromium = _chromium()
    stop = threading.Event()
    workers = [threading.Thread(target=_load, args=(server, stop)) for _ in range(4)]
    for w in workers:
        w.start()
    try:
        time.sleep(9.0)  # nobody polls: the server samples every 2 s by itself
    finally:
        stop.set()
        for w in workers:
            w.join()
    data = httpx.get(f"{server}/dashboard/data").json()
    series = data["series"]
    assert len(series["t_s"]) >= 3 and max(series["requests_per_s"]) > 0
    assert max(series["running"]) >= 1 and max(v for v in series["ttft_p50_s"] if v) > 0
    later = httpx.get(f"{server}/dashboard/data", params={"since": series["t_s"][-2]}).json()
    assert later["series"]["t_s"][0] == series["t_s"][-1]  # only what is newer
    dom = _headless(chromium, "--dump-dom", f"{server}/dashboard")
    out = Path(os.environ.get("LLMEMU_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    shot = out / "dashboard.png"
    _headless(chromium, "--window-size=1280,1700", f"--screenshot={shot}",
              f"{server}/dashboard")  # fmt: skip
    for chart in CHARTS:
        found = re.search(rf'id="c-{chart}"[^>]*data-points="(\d+)"', dom)
        assert found and int(found.group(1)) >= 2, chart
    assert dom.count("<polyline") >= 6  # the line charts drew lines, not lone dots
    assert "llama-3-8b on h100x1" in dom and '<div id="status"></div>' in dom
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
