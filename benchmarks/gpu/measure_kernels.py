#!/usr/bin/env python3
"""Measure real FP16 kernel times on a GPU to calibrate llmemu's device presets.

What is timed (plain PyTorch, FP16, one CUDA device):

* ``peak_gemm_fp16`` / ``peak_gemm_bf16``: one 8192^3 matrix product (achieved TFLOP/s).
* ``d2d_copy``: a 1 GiB device-to-device copy; bytes count read + write.
* ``qkv`` / ``o_proj`` / ``gate_up`` / ``down``: ``x[m,k] @ W[k,n]`` for the per-GPU
  shapes of the models llmemu ships presets for, at several tensor-parallel degrees.
* ``decode_attn``: ``scaled_dot_product_attention`` with one query token per sequence
  against a KV cache of ``context`` tokens (GQA via ``enable_gqa=True``; when that is
  unsupported the op is named ``decode_attn_repeat_kv`` and KV heads are expanded
  outside the timed region).
* ``prefill_attn``: causal SDPA over one sequence of ``context`` tokens.

Timing: inputs are random (never zeros); each shape is warmed up eagerly, then
``inner`` back-to-back launches are captured in a CUDA graph and each graph replay is
timed with CUDA events; ``median_ms`` is the median over >= 10 replays divided by
``inner``. The weights / KV caches rotate over enough copies (>= ~160 MB together)
that repeated launches do not measure the 50 MB L2 cache, as in a real model where
every layer has its own weights. When graph capture fails the same loop is timed
eagerly with events.

Rows are written and flushed as they are measured, so a timeout still leaves data.

Usage::

    python3 benchmarks/gpu/measure_kernels.py --out data/kernels/measured
    python3 benchmarks/gpu/measure_kernels.py --dry-run --out /tmp/x   # CPU smoke test
    python3 benchmarks/gpu/measure_kernels.py --fp8 --out data/kernels/measured  # FP8 GEMMs
    python3 benchmarks/gpu/measure_kernels.py --long-context --out data/kernels/measured

``--long-context`` times only attention at serving's long contexts (8k-128k decode,
16k/32k prefill) into ``<gpu>_longctx__llmemu.csv``, a file the GEMM fits never read.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

COLUMNS = [
    "op",
    "model",
    "tp",
    "m",
    "k",
    "n",
    "batch",
    "context",
    "heads",
    "kv_heads",
    "head_dim",
    "median_ms",
    "flops",
    "bytes",
    "achieved_tflops",
    "achieved_gbps",
    "device_name",
    "torch_version",
]

M_VALUES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]
DECODE_BATCHES = [1, 8, 32, 64, 128, 256]
DECODE_CONTEXTS = [128, 512, 1024, 2048, 4096]
PREFILL_LENGTHS = [512, 1024, 2048, 4096, 8192]
HEAD_DIM = 128
# --long-context: attention only, at the contexts long-context serving runs
LONG_DECODE_BATCHES = [1, 8, 32, 64]
LONG_DECODE_CONTEXTS = [8192, 16384, 32768, 65536, 131072]
LONG_PREFILL_LENGTHS = [16384, 32768]
KV_LIMIT_BYTES = 20e9  # skip decode combos whose KV cache is larger
ROTATE_BYTES = 160e6  # rotate buffers until this many bytes are in play
MAX_BUFFERS = 1024


@dataclass(frozen=True)
class Model:
    name: str
    hidden: int
    heads: int
    kv_heads: int
    ffn: int
    tps: tuple[int, ...]
    ops: tuple[str, ...] = ("qkv", "o_proj", "gate_up", "down")


MODELS = [
    Model("llama-3-8b", 4096, 32, 8, 14336, (1, 2)),
    Model("llama-70b", 8192, 64, 8, 28672, (2, 4, 8)),
    Model("codellama-34b", 8192, 64, 8, 22016, (1, 2, 4)),
    # one Mixtral-8x7B expert: a dense 4096 x 14336 FFN fed with the tokens routed to it
    Model("mixtral-8x7b-expert", 4096, 32, 8, 14336, (1,), ("gate_up", "down")),
]


def gemm_shape(model: Model, op: str, tp: int) -> tuple[int, int]:
    """(k, n) of the per-GPU weight for one projection under tensor parallelism."""
    d = HEAD_DIM
    if op == "qkv":
        return model.hidden, (model.heads + 2 * model.kv_heads) * d // tp
    if op == "o_proj":
        return model.heads * d // tp, model.hidden
    if op == "gate_up":
        return model.hidden, 2 * model.ffn // tp
    if op == "down":
        return model.ffn // tp, model.hidden
    raise ValueError(op)


class Bench:
    """Times ``fn(i)`` (i = launch index, used to rotate buffers) per launch."""

    def __init__(self, device: torch.device, use_graphs: bool, min_reps: int, deadline: float):
        self.device = device
        self.cuda = device.type == "cuda"
        self.use_graphs = use_graphs and self.cuda
        self.min_reps = min_reps
        self.deadline = deadline
        self.graph_failures = 0

    def _sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def _eager_ms(self, fn, start: int, count: int) -> float:
        """Time ``count`` eager launches; returns total ms."""
        if not self.cuda:
            t0 = time.perf_counter()
            for i in range(start, start + count):
                fn(i)
            return (time.perf_counter() - t0) * 1e3
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        for i in range(start, start + count):
            fn(i)
        b.record()
        b.synchronize()
        return a.elapsed_time(b)

    def time(self, fn, nbuf: int = 1, budget_ms: float = 40.0) -> float:
        """Median milliseconds of one launch of ``fn``."""
        # warm-up (module load, cuBLAS handles and heuristics) on the stream used later
        if self.cuda:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for i in range(3):
                    fn(i)
            torch.cuda.current_stream().wait_stream(side)
        else:
            fn(0)
        self._sync()
        est = max(self._eager_ms(fn, 0, 3) / 3, 1e-4)  # ms per launch, rough
        # enough launches per sample to hide launch gaps and cover the rotation
        inner = int(min(MAX_BUFFERS, max(nbuf, math.ceil(0.5 / est))))
        if time.time() > self.deadline:
            reps = 3
        else:
            reps = int(min(30, max(self.min_reps, budget_ms / (inner * est))))

        samples: list[float] = []
        if self.use_graphs:
            try:
                g = torch.cuda.CUDAGraph()
                with torch.cuda.graph(g):
                    for i in range(inner):
                        fn(i)
                g.replay()
                self._sync()
                starts = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
                ends = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
                for s, e in zip(starts, ends, strict=True):
                    s.record()
                    g.replay()
                    e.record()
                self._sync()
                samples = [s.elapsed_time(e) / inner for s, e in zip(starts, ends, strict=True)]
                del g
            except Exception as exc:  # noqa: BLE001 - fall back to eager timing
                self.graph_failures += 1
                if self.graph_failures <= 3:
                    print(
                        f"  graph capture failed ({type(exc).__name__}: {exc}); timing eagerly",
                        flush=True,
                    )
                self._sync()
                samples = []
        if not samples:
            self._eager_ms(fn, 0, inner)  # one more warm loop
            samples = [self._eager_ms(fn, 0, inner) / inner for _ in range(reps)]
        return statistics.median(samples)


def gpu_tag(name: str) -> str:
    low = name.lower()
    for tag in ("h200", "h100", "a100", "l40s", "b200", "gh200"):
        if tag in low:
            return "gh200" if "gh200" in low else tag
    return "".join(c if c.isalnum() else "_" for c in low).strip("_") or "unknown"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="data/kernels/measured", help="output folder")
    ap.add_argument(
        "--dry-run",
        action="store_true",
        help="tiny shapes on the CPU (float32), to check the script runs",
    )
    ap.add_argument(
        "--max-seconds",
        type=float,
        default=240.0,
        help="after this many seconds, time remaining shapes with 3 reps only",
    )
    ap.add_argument("--min-reps", type=int, default=10)
    ap.add_argument("--no-graphs", action="store_true", help="time eager loops, not CUDA graphs")
    ap.add_argument(
        "--repeat-kv",
        action="store_true",
        help="expand KV heads instead of enable_gqa=True (ops get a _repeat_kv suffix)",
    )
    ap.add_argument(
        "--no-extras",
        action="store_true",
        help="skip the extra attention shapes (70B per-GPU heads at TP 2/4/8)",
    )
    ap.add_argument(
        "--fp8",
        action="store_true",
        help="time FP8 GEMMs (torch._scaled_mm, fp8_gemms.py) into <gpu>_fp8__llmemu.csv instead",
    )
    ap.add_argument(
        "--long-context",
        action="store_true",
        help="time only attention at 8k-128k contexts into <gpu>_longctx__llmemu.csv",
    )
    args = ap.parse_args()
    long_ctx = args.long_context

    t_start = time.time()
    dry = args.dry_run
    if dry:
        device = torch.device("cpu")
        dtype = torch.float32
        device_name = "cpu-dry-run"
        scale = 32  # divide every model dimension by this
        m_values = [1, 4, 64]
        batches, contexts, lengths = [1, 8], [128, 512], [128, 256]
        if long_ctx:
            contexts, lengths = [1024, 2048], [512]
        peak_n, copy_bytes = 512, 64 << 20
    else:
        if not torch.cuda.is_available():
            print("CUDA is not available; use --dry-run for a CPU smoke test", file=sys.stderr)
            return 2
        device = torch.device("cuda")
        dtype = torch.float16
        device_name = torch.cuda.get_device_name(0)
        scale = 1
        m_values, batches, contexts, lengths = (
            M_VALUES,
            DECODE_BATCHES,
            DECODE_CONTEXTS,
            PREFILL_LENGTHS,
        )
        if long_ctx:
            batches, contexts, lengths = (
                LONG_DECODE_BATCHES,
                LONG_DECODE_CONTEXTS,
                LONG_PREFILL_LENGTHS,
            )
        peak_n, copy_bytes = 8192, 1 << 30
    if args.fp8:
        import fp8_gemms  # beside this script, which is sys.path[0]

        path = os.path.join(args.out, f"{gpu_tag(device_name)}_fp8__llmemu.csv")
        print(f"device={device_name} torch={torch.__version__} cuda={torch.version.cuda} FP8")
        fp8_gemms.run(args, device, device_name, path, scale, peak_n)
        return 0
    torch_version = torch.__version__
    esize = torch.tensor([], dtype=dtype).element_size()
    bench = Bench(device, not args.no_graphs, args.min_reps, t_start + args.max_seconds)

    os.makedirs(args.out, exist_ok=True)
    tag = gpu_tag(device_name) + ("_longctx" if long_ctx else "")
    path = os.path.join(args.out, f"{tag}__llmemu.csv")
    fh = open(path, "w", newline="")  # noqa: SIM115 - flushed per row, closed below
    writer = csv.DictWriter(fh, fieldnames=COLUMNS)
    writer.writeheader()
    fh.flush()
    nrows = 0
    results: dict[tuple, dict] = {}

    print(
        f"device={device_name} torch={torch_version} cuda={torch.version.cuda} "
        f"cudnn={torch.backends.cudnn.version() if not dry else None} dtype={dtype} "
        f"graphs={bench.use_graphs} out={path}",
        flush=True,
    )
    if bench.cuda:
        props = torch.cuda.get_device_properties(0)
        print(
            f"sm_count={props.multi_processor_count} mem_GiB={props.total_memory / 2**30:.1f} "
            f"capability={props.major}.{props.minor}",
            flush=True,
        )

    def emit(op: str, ms: float, flops: float, nbytes: float, **kw) -> dict:
        nonlocal nrows
        row = {c: "" for c in COLUMNS}
        row.update(kw)
        row.update(
            op=op,
            median_ms=f"{ms:.6g}",
            flops=f"{flops:.0f}",
            bytes=f"{nbytes:.0f}",
            achieved_tflops=f"{flops / (ms * 1e-3) / 1e12:.4g}" if flops else "",
            achieved_gbps=f"{nbytes / (ms * 1e-3) / 1e9:.4g}" if nbytes else "",
            device_name=device_name,
            torch_version=torch_version,
        )
        writer.writerow(row)
        fh.flush()
        nrows += 1
        results[
            (
                op,
                kw.get("model", ""),
                kw.get("tp", ""),
                kw.get("m", ""),
                kw.get("batch", ""),
                kw.get("context", ""),
                kw.get("heads", ""),
            )
        ] = row
        return row

    def randn(*shape, std: float = 1.0, dt=None):
        return torch.randn(*shape, device=device, dtype=dt or dtype) * std

    def guarded(label: str, fn, *args) -> None:
        try:
            fn(*args)
        except torch.cuda.OutOfMemoryError as exc:
            print(f"  OOM at {label}: {exc}", flush=True)
        except Exception as exc:  # noqa: BLE001 - keep measuring other shapes
            print(f"  FAILED {label}: {type(exc).__name__}: {exc}", flush=True)
        finally:
            if bench.cuda:
                torch.cuda.synchronize()
                torch.cuda.empty_cache()

    # ---------------------------------------------------------------- ceilings
    def peak_gemm(dt, label):
        n = peak_n
        a, b = randn(n, n, dt=dt), randn(n, n, std=n**-0.5, dt=dt)
        c = torch.empty(n, n, device=device, dtype=dt)
        ms = bench.time(lambda i: torch.matmul(a, b, out=c), budget_ms=60)
        r = emit(label, ms, 2.0 * n**3, 3.0 * n * n * a.element_size(), m=n, k=n, n=n)
        print(f"{label:16s} {n}^3: {ms:.3f} ms  {r['achieved_tflops']} TFLOP/s", flush=True)

    def d2d_copy():
        n = copy_bytes // esize
        src, dst = randn(n), torch.empty(n, device=device, dtype=dtype)
        ms = bench.time(lambda i: dst.copy_(src), budget_ms=60)
        r = emit("d2d_copy", ms, 0, 2.0 * n * esize, m=n)
        print(
            f"d2d_copy {copy_bytes / 2**30:.2f} GiB: {ms:.3f} ms  {r['achieved_gbps']} GB/s "
            f"(read+write)",
            flush=True,
        )

    if not long_ctx:
        guarded("peak_gemm_fp16", peak_gemm, dtype, "peak_gemm_fp16")
        if not dry:
            guarded("peak_gemm_bf16", peak_gemm, torch.bfloat16, "peak_gemm_bf16")
        guarded("d2d_copy", d2d_copy)

    # ---------------------------------------------------------------- GEMMs
    gemm_cache: dict[tuple[int, int, int], float] = {}

    def gemm_rows(model: Model, tp: int, op: str):
        k, n = gemm_shape(model, op, tp)
        k, n = k // scale, n // scale
        wbytes = k * n * esize
        nbuf = int(min(MAX_BUFFERS, max(1, math.ceil(ROTATE_BYTES / wbytes))))
        ws = [randn(k, n, std=k**-0.5) for _ in range(nbuf)]
        for m in m_values:
            key = (m, k, n)
            if key not in gemm_cache:
                x = randn(m, k)
                out = torch.empty(m, n, device=device, dtype=dtype)
                gemm_cache[key] = bench.time(
                    lambda i, x=x, out=out: torch.matmul(x, ws[i % nbuf], out=out),
                    nbuf=nbuf,
                    budget_ms=30,
                )
                del x, out
            ms = gemm_cache[key]
            emit(
                op,
                ms,
                2.0 * m * k * n,
                float(esize * (m * k + k * n + m * n)),
                model=model.name,
                tp=tp,
                m=m,
                k=k,
                n=n,
            )

    t0 = time.time()
    for model in MODELS if not long_ctx else []:
        for tp in model.tps:
            for op in model.ops:
                guarded(f"{model.name} tp{tp} {op}", gemm_rows, model, tp, op)
    print(f"GEMMs done: {len(gemm_cache)} distinct shapes in {time.time() - t0:.1f} s", flush=True)

    # ---------------------------------------------------------------- attention
    gqa_native = not args.repeat_kv
    try:
        q = randn(1, 4, 1, 16)
        kv = randn(1, 2, 8, 16)
        if gqa_native:
            F.scaled_dot_product_attention(q, kv, kv, enable_gqa=True)
    except TypeError:
        gqa_native = False
    print(
        f"SDPA GQA mode: {'enable_gqa=True' if gqa_native else 'repeat_interleave KV heads'}",
        flush=True,
    )
    suffix = "" if gqa_native else "_repeat_kv"
    d = HEAD_DIM

    def sdpa(q, k, v, causal):
        if gqa_native:
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)

    def expand(t, h):
        return t if gqa_native else t.repeat_interleave(h // t.shape[1], dim=1)

    def backend_name(q, k, v, causal) -> str:
        """Which SDPA backend PyTorch picks for these inputs (printed, not timed)."""
        try:
            kw = {"enable_gqa": True} if gqa_native else {}
            choice = torch._fused_sdp_choice(q, k, v, is_causal=causal, **kw)
            try:
                from torch.nn.attention import SDPBackend

                return SDPBackend(choice).name
            except Exception:  # noqa: BLE001
                return str(choice)
        except Exception as exc:  # noqa: BLE001
            return f"unknown ({type(exc).__name__})"

    backends_seen: dict[str, str] = {}

    def decode(model: str, tp: int, h: int, kvh: int, b: int, ctx: int):
        kv_bytes = 2.0 * b * kvh * ctx * d * esize
        nbuf = int(min(MAX_BUFFERS, max(1, math.ceil(ROTATE_BYTES / kv_bytes))))
        q = randn(b, h, 1, d)
        ks = [expand(randn(b, kvh, ctx, d), h) for _ in range(nbuf)]
        vs = [expand(randn(b, kvh, ctx, d), h) for _ in range(nbuf)]
        backends_seen.setdefault(
            f"decode {model} tp{tp} ({h},{kvh})", backend_name(q, ks[0], vs[0], False)
        )
        ms = bench.time(
            lambda i: sdpa(q, ks[i % nbuf], vs[i % nbuf], False), nbuf=nbuf, budget_ms=25
        )
        flops = 4.0 * b * h * ctx * d
        nbytes = kv_bytes + 2.0 * b * h * d * esize  # KV once, q in, out
        return emit(
            "decode_attn" + suffix,
            ms,
            flops,
            nbytes,
            model=model,
            tp=tp,
            batch=b,
            context=ctx,
            heads=h,
            kv_heads=kvh,
            head_dim=d,
        )

    def prefill(model: str, tp: int, h: int, kvh: int, length: int):
        q = randn(1, h, length, d)
        k = expand(randn(1, kvh, length, d), h)
        v = expand(randn(1, kvh, length, d), h)
        backends_seen.setdefault(f"prefill {model} tp{tp} ({h},{kvh})", backend_name(q, k, v, True))
        ms = bench.time(lambda i: sdpa(q, k, v, True), budget_ms=25)
        flops = 4.0 * h * length * length * d / 2  # causal: half the score matrix
        nbytes = float(esize * (2 * h * length * d + 2 * kvh * length * d))
        return emit(
            "prefill_attn" + suffix,
            ms,
            flops,
            nbytes,
            model=model,
            tp=tp,
            batch=1,
            context=length,
            heads=h,
            kv_heads=kvh,
            head_dim=d,
        )

    def decode_sweep(model, tp, h, kvh):
        t0 = time.time()
        for b in batches:
            for ctx in contexts:
                if 2.0 * b * kvh * ctx * d * esize > KV_LIMIT_BYTES:
                    continue
                guarded(
                    f"decode {model} h{h}/{kvh} b{b} ctx{ctx}", decode, model, tp, h, kvh, b, ctx
                )
        print(
            f"decode_attn {model} tp{tp} ({h},{kvh}) done in {time.time() - t0:.1f} s", flush=True
        )

    def prefill_sweep(model, tp, h, kvh):
        for length in lengths:
            guarded(f"prefill {model} h{h}/{kvh} L{length}", prefill, model, tp, h, kvh, length)

    h8, kv8 = 32 // (1 if not dry else 4), 8 // (1 if not dry else 4)
    decode_sweep("llama-3-8b", 1, h8, kv8)
    decode_sweep("llama-70b", 8, 64 // 8, 8 // 8)
    prefill_sweep("llama-3-8b", 1, h8, kv8)
    print("prefill_attn done", flush=True)
    if not args.no_extras and not dry and not long_ctx:
        for tp in (2, 4):
            decode_sweep("llama-70b", tp, 64 // tp, 8 // tp)
        prefill_sweep("llama-70b", 8, 8, 1)
    fh.close()

    # ---------------------------------------------------------------- summary
    def pick(op, model="", tp="", m="", batch="", context="", heads=""):
        r = results.get((op, model, tp, m, batch, context, heads))
        return r["median_ms"] if r else "-"

    print(f"\n== summary ({device_name}, {nrows} rows, {time.time() - t_start:.0f} s) ==")
    for op in ("peak_gemm_fp16", "peak_gemm_bf16"):
        for r in results.values():
            if r["op"] == op:
                print(f"{op}: {r['achieved_tflops']} TFLOP/s ({r['median_ms']} ms)")
    for r in results.values():
        if r["op"] == "d2d_copy":
            print(f"d2d_copy: {r['achieved_gbps']} GB/s ({r['median_ms']} ms)")
    ms_show = [m for m in (1, 16, 64, 512, 4096, 8192) if m in m_values]
    print("GEMM median ms at m=" + ",".join(map(str, ms_show)))
    for model in MODELS if not long_ctx else []:
        for tp in model.tps:
            for op in model.ops:
                vals = [pick(op, model.name, tp, m) for m in ms_show]
                print(f"  {model.name:20s} tp{tp} {op:8s} " + " ".join(f"{v:>9s}" for v in vals))
    print("decode_attn median ms (rows: batch, cols: context " + ",".join(map(str, contexts)) + ")")
    for model, tp, h in (("llama-3-8b", 1, h8), ("llama-70b", 8, 8)):
        print(f"  {model} tp{tp}")
        for b in batches:
            vals = [pick("decode_attn" + suffix, model, tp, "", b, c, h) for c in contexts]
            print(f"    B={b:<4d} " + " ".join(f"{v:>9s}" for v in vals))
    vals = [pick("prefill_attn" + suffix, "llama-3-8b", 1, "", 1, L, h8) for L in lengths]
    print("prefill_attn llama-3-8b L=" + ",".join(map(str, lengths)) + ": " + " ".join(vals))
    for what, name in backends_seen.items():
        print(f"SDPA backend chosen for {what}: {name}")
    if bench.graph_failures:
        print(f"graph capture failed {bench.graph_failures} times (eager timing used there)")
    print(f"wrote {nrows} rows to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
