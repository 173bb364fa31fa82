"""Host CPU per emitted token on the live path, and where it goes.

    .venv/bin/python benchmarks/live_cpu.py                      # 64, 128 and 256 streams
    .venv/bin/python benchmarks/live_cpu.py --concurrency 300 --requests-per-user 2

`llmemu serve` (llama-3-8b on one H100, `--speed 1`) runs in a thread of this process; the
clients (`llmemu bench`, closed loop, streaming chat) run in a separate process. The server
thread's CPU time (its own clock, so other work on the host does not count) is divided by
the tokens the engine emitted. A sampler thread reads the server thread's stack and CPU
clock every millisecond and charges the CPU used since the previous sample to the
component on top of the stack (table below), the way a sampling profiler does; C calls are
charged to the Python code that made them (a socket write to the HTTP server's send). The
request worker threads (tokenising, large bodies) run beside it; their CPU is a row of its own. The
sampler needs the GIL to read a stack, so the switch interval is cut to 0.1 ms while it runs:
with the default 5 ms a sample would wait for the server to go idle, and a burst of work
would be charged to the idle event loop it ends in.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "service"))

from serve_helpers import served  # noqa: E402

from llmemu.service.api.app import create_app  # noqa: E402
from llmemu.service.api.settings import ServeSettings  # noqa: E402

LLMEMU = str(Path(sys.executable).with_name("llmemu"))

# First match from the top of the stack down wins; a frame's file path is matched.
COMPONENTS = (
    ("engine step (core)", ("/llmemu/core/",)),
    (
        "metrics",
        ("/service/metrics/", "/prometheus_client/", "/prometheus_fastapi_instrumentator/"),
    ),  # fmt: skip
    (
        "SSE chunks (gateway, sse, streaming)",
        (
            "/service/api/gateway.py",
            "/service/api/sse.py",
            "/service/api/streaming.py",
            "/service/api/eager.py",
        ),
    ),  # fmt: skip
    ("engine loop + transport", ("/service/live/",)),
    # Before intake's "/service/api/": a stream's chunks are written to the socket there.
    ("HTTP server + socket writes", ("/uvicorn/", "/httptools/", "/service/api/direct.py")),
    (
        "request intake (parse, count, admit)",
        ("/service/api/", "/service/text/", "/pydantic", "/fastapi/", "/json/"),
    ),  # fmt: skip
    ("ASGI layers (starlette)", ("/starlette/",)),
    ("event loop (asyncio, uvloop)", ("/asyncio/", "/uvloop/")),
)


def component(frame) -> str:
    while frame is not None:
        path = frame.f_code.co_filename
        for name, parts in COMPONENTS:
            if any(p in path for p in parts):
                return name
        frame = frame.f_back
    return "other"


class CpuSampler:
    """Charges a thread's CPU time to the component on top of its stack, every `period_s`."""

    def __init__(self, thread: threading.Thread, period_s: float = 0.001) -> None:
        self.clock = time.pthread_getcpuclockid(thread.ident)
        self.ident, self.period_s = thread.ident, period_s
        self.cpu_s: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CpuSampler:
        self._interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-4)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        sys.setswitchinterval(self._interval)

    def _run(self) -> None:
        last = time.clock_gettime(self.clock)
        while not self._stop.wait(self.period_s):
            frame = sys._current_frames().get(self.ident)
            now = time.clock_gettime(self.clock)
            self.cpu_s[component(frame)] += now - last
            last = now


def server_thread() -> threading.Thread:
    """The thread serve_helpers.served runs uvicorn in (threading names it after its target)."""
    return next(t for t in threading.enumerate() if t.name.endswith("(run)"))


def children_cpu_s() -> float:
    """User + system CPU seconds of this process's finished children (the bench client)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def workers_cpu() -> dict[int, float]:
    """CPU seconds of each request worker thread (offload.py names them) alive now."""
    return {
        t.ident: time.clock_gettime(time.pthread_getcpuclockid(t.ident))
        for t in threading.enumerate()
        if t.name.startswith("llmemu-request") and t.ident is not None
    }


def one_run(concurrency: int, args: argparse.Namespace) -> dict:
    app = create_app(ServeSettings(model="llama-3-8b", system="h100x1", speed=1.0))
    on_lag = app.state.gateway.on_lag  # called once per token that leaves: the count, and p99
    lags: list[float] = []
    loops: set[str] = set()

    def record(lag: float) -> None:
        if not lags:  # which event loop the server runs (uvloop's, if installed)
            loops.add(type(asyncio.get_running_loop()).__module__)
        lags.append(lag)
        on_lag(lag)

    app.state.gateway.on_lag = record
    with served(app) as url:
        thread = server_thread()
        cmd = [LLMEMU, "bench", "--url", url, "--concurrency", str(concurrency), "--endpoint", "chat",
               "--requests", str(concurrency * args.requests_per_user),
               "--input-tokens", str(args.input_tokens), "--output-tokens", str(args.output_tokens),
               "--json"]  # fmt: skip
        # The client's start-up (imports, prompts) apart: a run of one one-token request.
        client0 = children_cpu_s()
        subprocess.run([*cmd[:4], "--concurrency", "1", "--requests", "1", "--input-tokens", str(args.input_tokens), "--output-tokens", "1"], capture_output=True, check=False)  # fmt: skip
        startup_s = children_cpu_s() - client0
        clock = time.pthread_getcpuclockid(thread.ident)
        cpu0, wall0 = time.clock_gettime(clock), time.perf_counter()
        workers0, client0 = workers_cpu(), children_cpu_s()
        with CpuSampler(thread) as sampler:
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        client_s = children_cpu_s() - client0
        cpu_s, wall_s = time.clock_gettime(clock) - cpu0, time.perf_counter() - wall0
        workers_s = sum(s - workers0.get(i, 0.0) for i, s in workers_cpu().items())
    if not out.stdout.strip():
        raise RuntimeError(f"bench failed ({out.returncode}): {out.stderr[-2000:]}")
    errors = json.loads(out.stdout)["client"]["errors"]  # bench exits 1 when there are some
    tokens = len(lags)
    lags.sort()
    return {
        "concurrency": concurrency,
        "tokens": tokens,
        "errors": errors,
        "cpu_us_per_token": cpu_s / tokens * 1e6,
        "server_cpu_share": cpu_s / wall_s,
        "lag_p99_ms": lags[int(0.99 * (tokens - 1))] * 1e3,
        "components_us": {k: v / tokens * 1e6 for k, v in sampler.cpu_s.items()},
        "workers_us_per_token": workers_s / tokens * 1e6,
        "client_us_per_token": client_s / tokens * 1e6,
        "client_startup_s": startup_s,
        "client_streaming_us_per_token": (client_s - startup_s) / tokens * 1e6,
        "event_loop": ",".join(sorted(loops)),
        # uvicorn imports the HTTP implementation it picked (httptools, if installed).
        "http": ",".join(
            sorted(
                m.rsplit(".", 1)[1]
                for m in sys.modules
                if m.startswith("uvicorn.protocols.http.") and m.endswith("_impl")
            )
        ),  # fmt: skip
        "load_average": os.getloadavg()[0],
    }


def show(rows: list[dict]) -> None:
    names = [n for n, _ in COMPONENTS] + ["other"]
    r = rows[-1]
    load = ", ".join(f"{x['load_average']:.1f}" for x in rows)
    print(f"event loop {r['event_loop']}, HTTP {r['http']}, host load average {load}")
    print("server CPU per emitted token, microseconds (server thread's own clock)")
    print(f"{'component':42s}" + "".join(f"{r['concurrency']:>9d}" for r in rows))
    for name in names:
        print(f"{name:42s}" + "".join(f"{r['components_us'].get(name, 0):9.1f}" for r in rows))
    print(f"{'total (thread CPU clock)':42s}" + "".join(f"{r['cpu_us_per_token']:9.1f}" for r in rows))  # fmt: skip
    print(f"{'request workers (tokenising), own clocks':42s}" + "".join(f"{r['workers_us_per_token']:9.1f}" for r in rows))  # fmt: skip
    print(f"{'client process (llmemu bench), getrusage':42s}" + "".join(f"{r['client_us_per_token']:9.1f}" for r in rows))  # fmt: skip
    print(f"{'client start-up (one 1-token request), s':42s}" + "".join(f"{r['client_startup_s']:9.2f}" for r in rows))  # fmt: skip
    print(f"{'client process less its start-up':42s}" + "".join(f"{r['client_streaming_us_per_token']:9.1f}" for r in rows))  # fmt: skip
    print(f"{'server thread busy (CPU s / wall s)':42s}" + "".join(f"{r['server_cpu_share']:9.0%}" for r in rows))  # fmt: skip
    print(f"{'pacing lag p99, ms':42s}" + "".join(f"{r['lag_p99_ms']:9.2f}" for r in rows))
    print(f"{'client errors':42s}" + "".join(f"{r['errors']:9d}" for r in rows))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--concurrency", default="64,128,256", help="comma-separated stream counts")
    p.add_argument("--input-tokens", type=int, default=512)
    p.add_argument("--output-tokens", type=int, default=128)
    p.add_argument("--requests-per-user", type=int, default=2)
    p.add_argument("--out", help="write the rows as JSON here")
    args = p.parse_args()
    rows = [one_run(int(c), args) for c in args.concurrency.split(",")]
    show(rows)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
