"""Event-loop CPU of one streaming chat request's intake, and where it goes.

    .venv/bin/python benchmarks/intake_cpu.py                       # this tree
    .venv/bin/python benchmarks/intake_cpu.py --baseline-path /work/main --rounds 3

`llmemu serve`'s app (llama-3-8b on one H100) behind uvicorn's httptools protocol, as
`llmemu serve` runs it, on one uvloop loop in this process; the connection's transport is a
stand-in that keeps what is written. Each request is the body `llmemu bench --input-tokens
512 --output-tokens 128` sends (streaming chat, `ignore_eos`, its own prompt), with the
head its client writes, handed to the protocol in one `data_received`. The server thread's
CPU clock is read before that call, when the gateway submits the request's sequences to
the engine, and when the response's head is written; the engine itself is not started, so
nothing else runs on the loop. One request at a time, the collector run between them
(`llmemu serve` runs it between iterations), after warm-up requests.

A cProfile pass lists the functions with the most own time. A third pass wraps the steps of
the intake (the outermost llmemu layer, the body's parse, the prompt's count, the answer's
draw, the gateway) to read the CPU clock as each begins and ends, and prints the median
time from the first byte to each mark: where the intake's time goes, with caches as cold as
the request leaves them (a step timed alone in a loop runs up to twice as fast).
`--baseline-path DIR` runs DIR's `services` and this tree's in separate processes,
alternating, and prints the ratio of the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class StandInTransport:
    """What uvicorn's protocol asks of a connection's transport; keeps the first write's time."""

    def __init__(self) -> None:
        self.head_ns: int | None = None

    def write(self, data: bytes) -> None:
        if self.head_ns is None:
            self.head_ns = time.thread_time_ns()

    def get_extra_info(self, name: str, default=None):
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)  # fmt: skip

    def is_closing(self) -> bool:
        return False

    def close(self) -> None: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...


def request_bytes(model: str, i: int, input_tokens: int, output_tokens: int) -> bytes:
    """Request i as `llmemu bench`'s client writes it (service/bench/load.py, sse_client.py)."""
    from llmemu.service.bench.load import prompt_text, request_body
    from llmemu.service.text.tokenizer import vocabulary_words

    text = prompt_text(vocabulary_words(), input_tokens, i)
    body = json.dumps(request_body(model, True, text, output_tokens)).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:8000\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


class Intake:
    """The app behind uvicorn's protocol, the engine left unstarted; `one()` times a request."""

    def __init__(self) -> None:
        import uvicorn
        from uvicorn.server import ServerState

        from llmemu.cli.serve import uvicorn_options
        from llmemu.service.api.app import create_app
        from llmemu.service.api.settings import ServeSettings

        settings = ServeSettings(model="llama-3-8b", system="h100x1")
        self.app = create_app(settings)
        self.model = self.app.state.emulation.served_model_name
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", **uvicorn_options(settings))  # fmt: skip
        config.load()
        self.config, self.state = config, ServerState()
        self.app.state.scheduler.start = lambda: None  # only the intake runs on the loop
        transport = self.app.state.gateway.transport
        submit = transport.submit
        self.submit_ns: int | None = None

        def timed_submit(seqs) -> None:
            self.submit_ns = time.thread_time_ns()
            submit(seqs)

        transport.submit = timed_submit
        self.connections: list = []
        self.marks: dict[str, int] | None = None
        """CPU clock at each step of the request being timed, when the steps are marked."""
        self.steps: dict[str, int] = {}
        """The last request's marks, CPU ns from its first byte."""

    async def one(self, data: bytes, profile: cProfile.Profile | None = None) -> tuple[int, int]:
        """(CPU ns to the submit, CPU ns to the response's head) of one request."""
        loop = asyncio.get_running_loop()
        proto = self.config.http_protocol_class(config=self.config, server_state=self.state, app_state={}, _loop=loop)  # fmt: skip
        conn = StandInTransport()
        proto.connection_made(conn)
        self.connections.append(proto)
        self.submit_ns = None
        if self.marks is not None:
            self.marks.clear()
        gc.collect()
        if profile is not None:
            profile.enable()
        start = time.thread_time_ns()
        proto.data_received(data)
        while conn.head_ns is None:
            await asyncio.sleep(0)
        if profile is not None:
            profile.disable()
        for _ in range(3):  # what follows the head (the stream's first wait) runs untimed
            await asyncio.sleep(0)
        if self.submit_ns is None:
            raise RuntimeError("the request was answered without reaching the engine")
        if self.marks is not None:
            self.steps = {k: v - start for k, v in self.marks.items()}
            self.steps.update({"submitted to the engine": self.submit_ns - start, "response head written": conn.head_ns - start})  # fmt: skip
        return self.submit_ns - start, conn.head_ns - start

    def mark_steps(self) -> None:
        """Read the CPU clock as each step of the intake begins and ends (the names exist
        in this tree and in the trees it is compared with)."""
        import llmemu.service.api.middleware as middleware
        import llmemu.service.api.openai_routes as routes

        marks = self.marks = {}

        def mark(name: str) -> None:
            marks.setdefault(name, time.thread_time_ns())

        def wrap(fn, before: str, after: str):
            def timed(*args, **kwargs):
                mark(before)
                try:
                    return fn(*args, **kwargs)
                finally:
                    mark(after)

            return timed

        stamp = middleware.ArrivalStamp.__call__

        async def stamped(self, scope, receive, send):
            mark("llmemu's outermost layer (ArrivalStamp)")
            await stamp(self, scope, receive, send)

        middleware.ArrivalStamp.__call__ = stamped
        routes.parse_body = wrap(routes.parse_body, "body parse begins", "body parsed")
        tok, sampler = self.app.state.tokenizer, self.app.state.serving[1]
        tok.count_all = wrap(tok.count_all, "prompt count begins", "prompt counted")
        sampler.draw = wrap(sampler.draw, "answer draw begins", "answer drawn")
        gateway = self.app.state.gateway
        serve = gateway.serve

        async def serving(*args):
            mark("gateway admits")
            return await serve(*args)

        gateway.serve = serving

    async def close(self) -> None:
        """Every client leaves: the streams end and their sequences are aborted."""
        for proto in self.connections:
            proto.connection_lost(None)
        for _ in range(5):
            await asyncio.sleep(0)
        self.app.state.serving[2].close()  # the request worker threads


async def measure(requests: int, warmup: int, input_tokens: int, output_tokens: int) -> dict:
    intake = Intake()
    bodies = [request_bytes(intake.model, i, input_tokens, output_tokens) for i in range(warmup + 3 * requests)]  # fmt: skip
    timed, profiled, marked = (bodies[warmup + k * requests : warmup + (k + 1) * requests] for k in range(3))  # fmt: skip
    gc.collect()
    gc.freeze()  # as `llmemu serve` does with its start-up objects
    for data in bodies[:warmup]:
        await intake.one(data)
    gc.disable()
    times = [await intake.one(data) for data in timed]
    profile = cProfile.Profile()
    for data in profiled:
        await intake.one(data, profile)
    intake.mark_steps()
    steps: list[dict[str, int]] = []
    for data in marked:
        await intake.one(data)
        steps.append(intake.steps)
    gc.enable()
    await intake.close()
    names = sorted({k for s in steps for k in s}, key=lambda k: statistics.median(s[k] for s in steps if k in s))  # fmt: skip
    return {
        "python": sys.version.split()[0],
        "llmemu": str(Path(sys.modules["llmemu"].__file__).parents[1]),
        "requests": requests,
        "submit_us_p50": statistics.median(t[0] for t in times) / 1e3,
        "submit_us_p90": statistics.quantiles([t[0] / 1e3 for t in times], n=10)[-1],
        "head_us_p50": statistics.median(t[1] for t in times) / 1e3,
        "steps_us": {k: statistics.median(s[k] for s in steps if k in s) / 1e3 for k in names},
        "top_functions": top_functions(profile, requests),
    }


def top_functions(profile: cProfile.Profile, requests: int, n: int = 12) -> list[str]:
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    rows = sorted(stats.items(), key=lambda kv: -kv[1][2])[:n]
    return [f"{v[2] / requests * 1e6:7.1f} us  {Path(k[0]).name}:{k[1]} {k[2]}" for k, v in rows]


def run_tree(services: Path, args: argparse.Namespace) -> dict:
    """One measurement in a fresh process importing llmemu from `services`."""
    env = {**os.environ, "PYTHONPATH": str(services)}
    cmd = [sys.executable, __file__, "--json", *_measure_flags(args)]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


def _measure_flags(args: argparse.Namespace) -> list[str]:
    return ["--requests", str(args.requests), "--warmup", str(args.warmup), "--input-tokens", str(args.input_tokens), "--output-tokens", str(args.output_tokens)]  # fmt: skip


def print_result(label: str, r: dict) -> None:
    print(f"{label} ({r['llmemu']}): median CPU per request, first byte to engine submit "
          f"{r['submit_us_p50']:.0f} us (p90 {r['submit_us_p90']:.0f}), to response head "
          f"{r['head_us_p50']:.0f} us")  # fmt: skip
    print("  median CPU from the first byte to each step (steps marked, a pass of its own):")
    last = 0.0
    for name, us in r["steps_us"].items():
        print(f"    {us:7.1f} us  (+{us - last:5.1f})  {name}")
        last = us
    print("  own time per request under cProfile (its overhead included), top functions:")
    for line in r["top_functions"]:
        print(f"    {line}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--input-tokens", type=int, default=512)
    p.add_argument("--output-tokens", type=int, default=128)
    p.add_argument("--baseline-path", type=Path, help="another checkout to compare with")
    p.add_argument("--rounds", type=int, default=3, help="alternating runs per tree")
    p.add_argument("--json", action="store_true", help="one measurement, as JSON")
    args = p.parse_args()
    if args.baseline_path is None:
        import uvloop

        result = uvloop.run(measure(args.requests, args.warmup, args.input_tokens, args.output_tokens))  # fmt: skip
        if args.json:
            print(json.dumps(result))
        else:
            print_result("this tree", result)
        return
    trees = {"baseline": args.baseline_path / "services", "this tree": ROOT / "services"}
    runs: dict[str, list[dict]] = {k: [] for k in trees}
    for _ in range(args.rounds):
        for label, services in trees.items():
            runs[label].append(run_tree(services, args))
    middle: dict[str, dict] = {}
    for label, results in runs.items():
        middle[label] = sorted(results, key=lambda r: r["submit_us_p50"])[len(results) // 2]
        print_result(label, middle[label])
        print("  to submit, the median of each run: " + ", ".join(f"{r['submit_us_p50']:.0f}" for r in results) + " us")  # fmt: skip
    base, this = middle["baseline"], middle["this tree"]
    fastest = {k: min(r["submit_us_p50"] for r in v) for k, v in runs.items()}
    print(
        f"this tree / baseline, middle runs: to submit {this['submit_us_p50'] / base['submit_us_p50']:.2f} "
        f"({this['submit_us_p50']:.0f} / {base['submit_us_p50']:.0f} us), to the response head "
        f"{this['head_us_p50'] / base['head_us_p50']:.2f} ({this['head_us_p50']:.0f} / {base['head_us_p50']:.0f} us); "
        f"fastest runs: to submit {fastest['this tree'] / fastest['baseline']:.2f} "
        f"({fastest['this tree']:.0f} / {fastest['baseline']:.0f} us)"
    )


if __name__ == "__main__":
    main()
