"""The h200 preset's attention prices at long contexts against attention measured on an H200.

data/kernels/measured/h200_longctx__llmemu.csv (measure_kernels.py --long-context) holds
FP16 SDPA times of decode attention at 8k-128k contexts and causal prefill at 16k/32k, for
one GPU's heads: (32, 8) is Llama-3-8B at TP 1, (8, 1) Llama-70B at TP 8. Each row is
priced as the simulator prices it: `planner.attn_decode` / `attn_prefill` of a model with
those heads, through the real `Pricer` of the `h200x1` system. No preset is refitted here.

Printed: each row's measured and predicted ms, the signed error (predicted / measured - 1)
and the achieved GB/s, then the median error by op and context.

    PYTHONPATH=services .venv/bin/python benchmarks/longctx_attention_check.py
    PYTHONPATH=services .venv/bin/python benchmarks/longctx_attention_check.py --csv PATH
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

from llmemu.core import planner
from llmemu.core.catalog import load_system
from llmemu.core.cost import Pricer
from llmemu.core.ops import BatchShape, Op
from llmemu.core.specs.model import ModelSpec

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CSV = REPO / "data" / "kernels" / "measured" / "h200_longctx__llmemu.csv"
SYSTEM = "h200x1"
OPS = ("decode_attn", "prefill_attn")


def per_gpu_model(heads: int, kv_heads: int, head_dim: int) -> ModelSpec:
    """A model whose attention has one GPU's heads; only the attention fields matter."""
    hidden = heads * head_dim
    return ModelSpec(
        name=f"attn-{heads}x{kv_heads}",
        num_layers=1,
        hidden_size=hidden,
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        ffn_size=hidden,
        vocab_size=1,
        max_context=1 << 20,
    )


def as_op(row: dict[str, str]) -> Op:
    """The op the planner builds for a measured row (FP16, one GPU's heads)."""
    model = per_gpu_model(int(row["heads"]), int(row["kv_heads"]), int(row["head_dim"]))
    batch, ctx = int(row["batch"]), int(row["context"])
    if row["op"] == "decode_attn":
        shape = BatchShape(num_decode=batch, decode_context=batch * ctx, num_logits=batch)
        return planner.attn_decode(model, shape)
    shape = BatchShape(prefill_chunks=((ctx, 0),) * batch, num_logits=batch)
    return planner.attn_prefill(model, shape)


def compare(rows: list[dict[str, str]]) -> list[tuple[dict[str, str], float, float]]:
    """(row, measured s, predicted s) for each attention row."""
    system = load_system(SYSTEM)
    pricer = Pricer(system, 2)
    device = system.processors[0].name
    return [(r, float(r["median_ms"]) * 1e-3, pricer.time(as_op(r), device)) for r in rows]


def report(results) -> None:
    print(
        f"{'op':13s} {'heads':>6s} {'B':>3s} {'context':>7s} {'meas ms':>9s} {'pred ms':>9s}",
        end="",
    )
    print(f" {'error':>7s} {'GB/s':>6s}")
    errors: dict[tuple[str, int], list[float]] = {}
    for r, measured, predicted in results:
        err = predicted / measured - 1
        errors.setdefault((r["op"], int(r["context"])), []).append(err)
        heads = f"{r['heads']}/{r['kv_heads']}"
        print(
            f"{r['op']:13s} {heads:>6s} {r['batch']:>3s} {r['context']:>7s} "
            f"{measured * 1e3:9.4f} {predicted * 1e3:9.4f} {err * 100:+6.1f}% "
            f"{float(r['achieved_gbps']):6.0f}"
        )
    print("\nmedian error (predicted / measured - 1) by op and context")
    for (op, ctx), errs in sorted(errors.items()):
        print(f"  {op:13s} {ctx:>7d}: {statistics.median(errs) * 100:+6.1f}% over {len(errs)} rows")
    every = [e for errs in errors.values() for e in errs]
    print(f"  all {len(every)} rows: median {statistics.median(every) * 100:+.1f}%, ", end="")
    print(f"mean |error| {statistics.fmean(abs(e) for e in every) * 100:.1f}%")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="a measure_kernels.py CSV")
    args = ap.parse_args()
    if not args.csv.exists():
        print(
            f"{args.csv} is missing: measure it on an H200 with "
            "`python3 benchmarks/gpu/measure_kernels.py --long-context --out data/kernels/measured`",
            file=sys.stderr,
        )
        return 2
    with args.csv.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["op"] in OPS]
    if not rows:
        print(f"{args.csv} has no {' or '.join(OPS)} rows", file=sys.stderr)
        return 2
    print(f"{SYSTEM} preset against {args.csv.name} ({rows[0]['device_name']})")
    report(compare(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
