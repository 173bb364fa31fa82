"""The distributed deployment as real processes (scripts/up-local.sh), for the tests: redis-server,
Prometheus, gateways, schedulers and device workers, each its own process on a free port
block, in a temporary directory; everything is stopped at the end."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "up-local.sh"
NUM_PORTS = 12


def have_tools() -> bool:
    return all(shutil.which(t) for t in ("redis-server", "redis-cli", "prometheus", "curl"))


def free_base() -> int:
    """A port P such that P..P+NUM_PORTS-1 are all free now."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + NUM_PORTS >= 65535:
            continue
        if all(_free(base + i) for i in range(NUM_PORTS)):
            return base
    raise RuntimeError("no block of free ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Stack:
    def __init__(self, run_dir: Path, *, speed: float, edge: bool, overrides: str = "") -> None:
        self.env = {
            **os.environ,
            "LLMEMU_RUN_DIR": str(run_dir),
            "LLMEMU_BASE_PORT": str(free_base()),
            "LLMEMU_SPEED": str(speed),
            "LLMEMU_SCRAPE_INTERVAL": "1s",
            "LLMEMU_LOCAL_EDGE": "1" if edge else "0",
            "LLMEMU_SET": overrides,
            "PYTHON": sys.executable,
        }
        self.run_dir = run_dir
        out = self.sh("ports").stdout
        self.ports = {k: int(v) for k, v in (line.split("=") for line in out.split())}

    def sh(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(SCRIPT), *args], env=self.env, capture_output=True, text=True,
            timeout=120, check=check,
        )  # fmt: skip

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def pid(self, name: str) -> int:
        return int((self.run_dir / f"{name}.pid").read_text())

    def logs(self) -> str:
        return "\n".join(
            f"== {p.name}\n{p.read_text()[-2000:]}" for p in self.run_dir.glob("*.log")
        )

    def promql(self, expr: str) -> list:
        query = urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(f"{self.url('prometheus')}/api/v1/query?{query}", timeout=10) as r:  # fmt: skip
            body = json.load(r)
        assert body["status"] == "success", (expr, body)
        return body["data"]["result"]

    def wait_for(self, check, timeout_s: float, what: str):
        deadline = time.monotonic() + timeout_s
        while True:
            got = check()
            if got:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}\n{self.logs()}")
            time.sleep(0.25)
