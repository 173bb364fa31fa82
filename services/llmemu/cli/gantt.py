"""`explain --timeline out.png`: a Gantt picture of the first layers of one iteration.

One row per resource lane of each processor (compute, memory, network); each nano-op is a
bar whose height is the share of the device's units it held (REST ops: their average) and
whose colour is its nano-batch, so the overlap NanoFlow buys is visible. Policies without
nano-batches are drawn from their priced plan: stages one after another, the ops of a
stage side by side on their processors, each holding the whole processor.
"""

from __future__ import annotations

from bisect import bisect_right
from pathlib import Path

from llmemu.core.nanoflow.overlap import Bar, NanoOp, Resource
from llmemu.core.nanoflow.pipeline import GANTT_LAYERS, bound_resource
from llmemu.core.nanoflow.pricer import NanoFlowPricer
from llmemu.core.nanoflow.spec import scale_sizes
from llmemu.core.nanoflow.split import boundaries
from llmemu.core.ops import BatchShape
from llmemu.core.pricing import PlanPricer

LANES = (Resource.COMPUTE, Resource.MEMORY, Resource.NETWORK)


def iteration_bars(pricer: PlanPricer, batch: BatchShape) -> list[Bar]:
    if isinstance(pricer, NanoFlowPricer):
        return list(pricer.timing(batch).bars)
    return _plan_bars(pricer, batch)


def nano_batch_of(pricer: PlanPricer, batch: BatchShape):
    """Colour key: the nano-batch (of the default partition) an op's first token is in, so
    that finer pieces (KQV) share their nano-batch's colour."""
    if not isinstance(pricer, NanoFlowPricer):
        return lambda bar: 0
    sizes = scale_sizes(pricer.spec.nano_tokens, batch.num_tokens)
    edges = [b for _, b in boundaries(sizes)]
    return lambda bar: bisect_right(edges, bar.op.tokens[0])


def _plan_bars(pricer: PlanPricer, batch: BatchShape) -> list[Bar]:
    priced = pricer.router(pricer.plan(batch), pricer.pricer)
    bars, now = [], 0.0
    for block in priced.blocks[:1]:
        for layer in range(min(GANTT_LAYERS, block.repeat)):
            for stage in block.stages:
                free: dict[str, float] = {}
                for placed in stage:
                    start = free.get(placed.processor, now)
                    resource = bound_resource(placed.op, pricer.pricer, placed.processor)
                    op = NanoOp(
                        placed.op.name, layer, 0, (0, batch.num_tokens), placed.processor,
                        resource, 1.0, placed.time_s, op=placed.op,
                    )  # fmt: skip
                    bars.append(Bar(op, start, start + placed.time_s, 1.0))
                    free[placed.processor] = start + placed.time_s
                now = max(free.values(), default=now)
    return bars


def write_timeline(
    path: str, bars: list[Bar], title: str, colour_of=lambda bar: bar.op.piece
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lanes = [(p, r) for p in dict.fromkeys(b.op.processor for b in bars) for r in LANES]
    row = {lane: len(lanes) - 1 - i for i, lane in enumerate(lanes)}
    colours = plt.get_cmap("tab10").colors
    end_ms = max((b.end_s for b in bars), default=0.0) * 1e3
    fig, ax = plt.subplots(figsize=(16, 1.1 * len(lanes) + 1.6))
    for bar in bars:
        op = bar.op
        y = row[(op.processor, op.resource)]
        start, width = bar.start_s * 1e3, (bar.end_s - bar.start_s) * 1e3
        height = 0.9 * max(bar.share, 0.03)
        edge = "black" if op.layer % 2 == 0 else "dimgray"
        ax.broken_barh(
            [(start, width)], (y - 0.45, height), facecolors=colours[colour_of(bar) % 10],
            edgecolors=edge, linewidth=0.6, hatch="//" if op.layer % 2 else None,
        )  # fmt: skip
        if width > 0.035 * end_ms:
            ax.text(
                start + width / 2, y - 0.45 + height / 2, f"{op.name}{op.piece}\nR={bar.share:.2f}",
                ha="center", va="center", fontsize=7,
            )  # fmt: skip
    ax.set_yticks(range(len(lanes)), [f"{p} {r}" for p, r in reversed(lanes)])
    ax.set_ylim(-0.6, len(lanes) - 0.4)
    ax.set_xlim(0, end_ms * 1.01)
    ax.set_xlabel(
        "time (ms); bar height = share R of the device's units; colour = nano-batch; hatched = 2nd layer"
    )
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=130)
    plt.close(fig)
    return out


def draw_explained(path: str, pricer: PlanPricer, batch: BatchShape, report: dict) -> str:
    """The picture for `llmemu explain`: title from its report, file at `path`."""
    bars = iteration_bars(pricer, batch)
    layers = max((b.op.layer for b in bars), default=0) + 1
    title = (
        f"{report['model']} on {report['system']} (TP {report['tensor_parallel']}), "
        f"{batch.num_decode} decodes + {batch.num_tokens - batch.num_decode} prompt tokens: "
        f"first {layers} layers; whole iteration {report['iteration_s'] * 1e3:.1f} ms"
    )
    return str(write_timeline(path, bars, title, nano_batch_of(pricer, batch)))
