"""Fidelity of the live mode: does a client see the latencies the emulation says it should?

    .venv/bin/python benchmarks/live_fidelity.py                  # the headline run
    .venv/bin/python benchmarks/live_fidelity.py --sweep          # + the concurrency limit
    .venv/bin/python benchmarks/live_fidelity.py --find-max       # the limit at --speed 1, bisected

Each run starts `llmemu serve` (llama-3-8b on one H100) in this process on a free port and
loads it with `llmemu bench` in a separate process: N concurrent streaming chat clients,
closed loop, fixed prompt and output lengths, `ignore_eos`. It compares the client-observed
TTFT and ITL medians (wall seconds x speed) with the exact emulated ones (every finished
request and every token gap, recorded in the server), and reports the pacing error: how far
from the end of its emulated iteration each token was handed to the HTTP layer (wall
seconds, exact p99 over every token of |left - due|; times the speed, what it does to a
latency measured in emulated seconds), the signed lag beside it (p50, p99 late, p1 early:
an iteration's burst begins half its length early, lead.py), and the p99 of how late each
burst began against that plan (the server's own lag monitor watches the same figure).
The sweep raises the concurrency per speed until
the p99 error in emulated seconds reaches 5 ms; --find-max steps up the levels at speed 1 and
bisects between the last level that held and the first that did not, to --resolution
clients. The server runs on one CPU and the clients on the rest, as a load generator on
another machine would not share the server's core (--no-pin: anywhere; on this 2-core host
the kernel then puts the woken client on the server's core in mid-burst, and a neighbour's
work on the other core does the rest).
docs/live.md records the output.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "service"))

from serve_helpers import served  # noqa: E402

from llmemu.service.api.app import create_app  # noqa: E402
from llmemu.service.api.settings import ServeSettings  # noqa: E402

LLMEMU = str(Path(sys.executable).with_name("llmemu"))


class Recorder:
    """Wraps the scheduler's observer: keeps exact emulated TTFTs and token gaps."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.ttft_s: list[float] = []
        self.itl_s: list[float] = []
        self.start_lag_s: list[float] = []
        """How late each iteration's burst began against its plan (half a burst early)."""

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def on_first_token(self, req) -> None:
        self.inner.on_first_token(req)
        self.ttft_s.append(req.first_token_s - req.arrival_s)

    def on_tokens(self, gap_s: float, count: int) -> None:
        self.inner.on_tokens(gap_s, count)
        self.itl_s.extend([gap_s] * count)

    def on_pacing_lag(self, lag_s: float) -> None:
        self.inner.on_pacing_lag(lag_s)
        self.start_lag_s.append(lag_s)


def one_run(concurrency: int, speed: float, args: argparse.Namespace) -> dict:
    settings = ServeSettings(model="llama-3-8b", system="h100x1", speed=speed)
    app = create_app(settings)
    recorder = app.state.scheduler.observer = Recorder(app.state.scheduler.observer)
    gateway = app.state.gateway
    lags: list[float] = []
    on_lag = gateway.on_lag
    gateway.on_lag = lambda lag: (lags.append(lag), on_lag(lag))
    with served(app) as url:
        cmd = [LLMEMU, "bench", "--url", url, "--concurrency", str(concurrency),
               "--requests", str(concurrency * args.requests_per_user),
               "--input-tokens", str(args.input_tokens), "--output-tokens", str(args.output_tokens),
               "--json"]  # fmt: skip
        started = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, check=False, preexec_fn=args.client_cpus)  # fmt: skip
        wall_s = time.perf_counter() - started
    if not out.stdout.strip():
        raise RuntimeError(f"bench failed: {out.stderr[-2000:]}")
    client = json.loads(out.stdout)["client"]
    emulated = {"ttft_p50": float(np.median(recorder.ttft_s)), "itl_p50": float(np.median(recorder.itl_s))}  # fmt: skip
    lag = np.asarray(lags)
    error_p99_s = float(np.percentile(np.abs(lag), 99))
    row = {
        "concurrency": concurrency,
        "speed": speed,
        "requests": client["completed"],
        "errors": client["errors"],
        "wall_s": round(wall_s, 2),
        "client_ttft_p50_ms": client["ttft_s"]["p50"] * 1e3,
        "emulated_ttft_p50_ms": emulated["ttft_p50"] * 1e3,
        "client_itl_p50_ms": client["itl_s"]["p50"] * 1e3,
        "emulated_itl_p50_ms": emulated["itl_p50"] * 1e3,
        "lag_p50_ms": float(np.percentile(lag, 50)) * 1e3,
        "lag_p99_ms": float(np.percentile(lag, 99)) * 1e3,
        "early_p1_ms": -float(np.percentile(lag, 1)) * 1e3,
        "error_p99_ms": error_p99_s * 1e3,
        # What an emission off its moment does to a latency measured in emulated seconds.
        "error_p99_emulated_ms": error_p99_s * 1e3 * speed,
        # How late bursts began against their plan, half a burst early; the rest of a
        # token's error is its place in its burst (one socket write after another).
        "burst_start_lag_p99_ms": float(np.percentile(recorder.start_lag_s, 99)) * 1e3,
        "tokens_per_wall_s": client["output_tokens_per_s"] * speed,
    }
    row["ttft_error"] = row["client_ttft_p50_ms"] / row["emulated_ttft_p50_ms"] - 1
    row["itl_error"] = row["client_itl_p50_ms"] / row["emulated_itl_p50_ms"] - 1
    return row


def show(row: dict) -> None:
    print(
        f"c={row['concurrency']:4d} speed={row['speed']:<5g} ok={row['requests']:4d} err={row['errors']} "
        f"TTFT p50 client {row['client_ttft_p50_ms']:7.2f} emulated {row['emulated_ttft_p50_ms']:7.2f} ms ({row['ttft_error']:+.1%})  "
        f"ITL p50 client {row['client_itl_p50_ms']:6.2f} emulated {row['emulated_itl_p50_ms']:6.2f} ms ({row['itl_error']:+.1%})  "
        f"error p99 {row['error_p99_ms']:6.2f} ms (x speed {row['error_p99_emulated_ms']:6.2f}; lag p50 {row['lag_p50_ms']:5.2f} p99 late {row['lag_p99_ms']:6.2f} p1 early {row['early_p1_ms']:5.2f}; burst start p99 {row['burst_start_lag_p99_ms']:5.2f})  {row['tokens_per_wall_s']:7.0f} tok/s wall",
        flush=True,
    )  # fmt: skip


def median_row(rows: list[dict]) -> dict:
    """Per-field median over repetitions (the machine is shared: one run can catch a stall)."""
    out = dict(rows[0])
    for key, value in rows[0].items():
        if isinstance(value, float):
            out[key] = float(np.median([r[key] for r in rows]))
    out["errors"] = sum(r["errors"] for r in rows)
    out["repeats"] = len(rows)
    return out


def pin_apart():
    """Pin this process (the server's thread is started later and inherits it) to the first
    CPU it may use; return what pins the client process to the others."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit("--pin needs two CPUs or more")
    os.sched_setaffinity(0, cpus[:1])
    return lambda: os.sched_setaffinity(0, cpus[1:])


def held(row: dict) -> bool:
    return row["error_p99_emulated_ms"] < 5 and not row["errors"]


def find_max(point, levels: list[int], resolution: int, rows: list[dict]) -> int | None:
    """The largest concurrency at speed 1 whose p99 pacing error stays under 5 ms (None: not even
    the first level). Points are medians over --repeats runs."""

    def probe(c: int) -> bool:
        row = point(c, 1.0)
        rows.append(row)
        show(row)
        return held(row)

    good = None
    for c in levels:
        if not probe(c):
            break
        good = c
    else:
        return good  # every level held: the limit is above the last one
    bad = c
    if good is None:
        return None
    while bad - good > resolution:
        mid = (good + bad) // 2
        good, bad = (mid, bad) if probe(mid) else (good, mid)
    return good


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--input-tokens", type=int, default=512)
    p.add_argument("--output-tokens", type=int, default=128)
    p.add_argument("--requests-per-user", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3, help="runs per point; rows report medians")
    p.add_argument("--sweep", action="store_true", help="also find, per speed, the largest concurrency with p99 error x speed < 5 ms")  # fmt: skip
    p.add_argument("--speeds", default="1,0.5,0.25")
    p.add_argument("--levels", default="32,64,128,192,256,320,384,512")
    p.add_argument("--find-max", action="store_true", help="bisect the largest concurrency at speed 1 with p99 error < 5 ms")  # fmt: skip
    p.add_argument("--resolution", type=int, default=16, help="--find-max stops when the bracket is this narrow")  # fmt: skip
    p.add_argument("--out", help="write all rows as JSON here")
    p.add_argument("--pin", action=argparse.BooleanOptionalAction, default=len(os.sched_getaffinity(0)) > 1, help="server on the first CPU, clients on the others, as a load generator on another machine would not share the server's core (default where there are two CPUs or more)")  # fmt: skip
    args = p.parse_args()
    args.client_cpus = pin_apart() if args.pin else None
    point = lambda c, speed: median_row([one_run(c, speed, args) for _ in range(args.repeats)])  # noqa: E731
    rows: list[dict] = []
    if args.find_max:
        levels = [int(x) for x in args.levels.split(",")]
        best = find_max(point, levels, args.resolution, rows)
        print(f"largest concurrency at speed 1 with p99 pacing error < 5 ms: {best} (levels {args.levels}, resolution {args.resolution})")  # fmt: skip
    else:
        rows.append(point(args.concurrency, 1.0))
        show(rows[0])
    if args.sweep:
        for speed in (float(s) for s in args.speeds.split(",")):
            for c in (int(x) for x in args.levels.split(",")):
                row = point(c, speed)
                rows.append(row)
                show(row)
                if not held(row):
                    break
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
