"""One iteration as NanoFlow runs it: nano-operations of a few layers on the overlap
timeline, extrapolated to the whole model.

Every op of a layer is cut into the pieces of its partition (PipelineSpec), each piece
planned and routed like a batch of its own, so a nano-op's time at share 1 is exactly what
`Pricer.time` gives that smaller op (smaller GEMMs lose efficiency and re-read weights:
the cost of nano-batching). A nano-op waits for the previous op's nano-ops that cover any
of its tokens (for the first op of a layer: the last op of the previous layer). Its lane is
the resource whose roofline term dominates its time (collectives: the network).

Layers are identical, so only the first 8 are scheduled when the period per layer of their
last two quarters agrees within 1 %: the rest of the block runs at that period. A greedy
schedule that has not settled by then is scheduled over all the layers, and so is one whose
first layer alone keeps a lane or the device's units busier than that period (the few
layers scheduled then run in another regime than the whole block). Blocks of one
stage (the LM head) run alone on the whole device.

A processor's busy time is the share-seconds its units are held (overlap.held_s) over the
layers scheduled, and for each layer extrapolated, what they held per layer over the
quarter before the last (in the last, no next layer runs beside it). No one layer stands for the others: layers doing the
same work hold different share-seconds (the first runs its REST ops beside fewer ops, on
more units), and only time taken from the schedule's own intervals stays within the block's.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmemu.core.cost import Pricer
from llmemu.core.nanoflow.overlap import Bar, NanoOp, Resource, held_s, schedule
from llmemu.core.nanoflow.spec import PipelineSpec, scale_sizes
from llmemu.core.nanoflow.split import boundaries, nano_batch, token_range
from llmemu.core.ops import BatchShape, Op, OpKind
from llmemu.core.planner import plan_iteration
from llmemu.core.pricing import ProcessorWork
from llmemu.core.routing import Placed, PricedBlock, PricedPlan, Router
from llmemu.core.specs.model import ModelSpec

FIRST_LAYERS = 8
PERIOD_TOLERANCE = 0.01
GANTT_LAYERS = 2


@dataclass(frozen=True, slots=True)
class PipelineTiming:
    duration_s: float
    work: dict[str, ProcessorWork]
    plan: PricedPlan
    """Nano-ops of one layer per block, each with its time alone on the device."""
    bars: tuple[Bar, ...]
    """The first GANTT_LAYERS layers of the first pipelined block (for the Gantt picture)."""


def bound_resource(op: Op, pricer: Pricer, processor: str) -> Resource:
    if op.kind is OpKind.COLLECTIVE:
        return Resource.NETWORK
    rates = pricer.rates_for(op, processor)
    memory_s = op.bytes / rates.bytes_per_s
    return Resource.COMPUTE if rates.compute_time(op) >= memory_s else Resource.MEMORY


def time_pipeline(
    model: ModelSpec,
    batch: BatchShape,
    spec: PipelineSpec,
    pricer: Pricer,
    router: Router,
    first_layers: int = FIRST_LAYERS,
    max_layers: int | None = None,
) -> PipelineTiming:
    """`max_layers` caps the layers scheduled even when the period has not settled (the
    search uses it to bound its cost, then checks its best candidates uncapped)."""
    full = router(plan_iteration(model, batch, pricer.tp), pricer)
    pieces: dict[str, list[tuple[int, int, PricedPlan]]] = {}
    planned: dict[tuple[int, ...], list[tuple[int, int, PricedPlan]]] = {}
    for name in {p.op.name for b in full.blocks for p in b.placed()}:
        sizes = scale_sizes(spec.partition(name), batch.num_tokens)
        if sizes not in planned:
            planned[sizes] = [
                (a, b, router(plan_iteration(model, nano_batch(batch, a, b), pricer.tp), pricer))
                for a, b in boundaries(sizes)
            ]
        pieces[name] = planned[sizes]
    total, work, blocks, bars = 0.0, {}, [], ()
    for index, block in enumerate(full.blocks):
        if len(block.stages) == 1:
            total += _run_alone(block, work)
            blocks.append(block)
            continue
        limit = min(block.repeat, max_layers or block.repeat)
        seconds, busy, scheduled = _time_block(
            index, block, pieces, spec, pricer, batch.num_decode, first_layers, limit
        )
        total += seconds
        first = [bar for bar in scheduled if bar.op.layer == 0]
        for bar in first:  # every layer does the first one's work
            _credit(work, bar.op.processor, bar.op.op, 0.0, block.repeat)
        for processor, busy_s in busy.items():
            _credit(work, processor, None, busy_s, 1)
        blocks.append(PricedBlock(_stages(first), block.repeat))
        bars = bars or tuple(bar for bar in scheduled if bar.op.layer < GANTT_LAYERS)
    return PipelineTiming(total, work, PricedPlan(tuple(blocks), full.tokens), bars)


def layer_ops(index, block, pieces, spec, pricer, num_decode, num_layers) -> list[NanoOp]:
    """Nano-ops of the first `num_layers` layers of `block`, in priority order (layer,
    then op, then piece), each depending on the latest nano-ops before it that touched any
    of its tokens (prefill and decode attention in stages of their own, as routing to two
    processors places them, each wait for the KQV of their own tokens)."""
    ops: list[NanoOp] = []
    frontier: list[tuple[int, int, int]] = []
    for layer in range(min(num_layers, block.repeat)):
        seen: dict[str, int] = {}
        for stage in block.stages:
            current = []
            for name in dict.fromkeys(p.op.name for p in stage):
                occurrence = seen[name] = seen.get(name, -1) + 1
                for k, (a, b, priced) in enumerate(pieces[name]):
                    lo, hi = token_range(name, a, b, num_decode)
                    deps = tuple(i for i, plo, phi in frontier if plo < hi and lo < phi)
                    for placed in _placed(priced, index, name, occurrence):
                        resource = bound_resource(placed.op, pricer, placed.processor)
                        ops.append(
                            NanoOp(
                                name, layer, k, (lo, hi), placed.processor, resource,
                                spec.share(name, k), placed.time_s, deps, placed.op,
                            )
                        )  # fmt: skip
                        current.append((len(ops) - 1, lo, hi))
            frontier = current + [e for e in frontier if not _covered(e[1], e[2], current)]
    return ops


def _covered(lo: int, hi: int, entries: list[tuple[int, int, int]]) -> bool:
    """Whether the tokens [lo, hi) all lie in the ranges of `entries`."""
    for _, a, b in sorted(entries, key=lambda e: e[1]):
        if a <= lo < b:
            lo = b
        if lo >= hi:
            return True
    return lo >= hi


def _placed(priced: PricedPlan, index: int, name: str, occurrence: int) -> list[Placed]:
    """The parts of the `occurrence`-th op called `name` in block `index` of a piece's plan
    (a layer runs its all-reduce twice). A piece's plan has only the stages its tokens
    need (a piece of decodes alone has no prefill attention; routing may place its ops
    elsewhere), so ops are found by name and order, not by stage index; none if absent."""
    if index >= len(priced.blocks):
        return []
    stages = [st for st in priced.blocks[index].stages if any(p.op.name == name for p in st)]
    if occurrence >= len(stages):
        return []
    return [p for p in stages[occurrence] if p.op.name == name]


def priority(ops: list[NanoOp], order: str) -> list[int]:
    """Rank of each op. `ops` are built breadth-first (layer, op, piece), which is also
    the order their dependencies need; `depth` ranks by (layer, first token, op)."""
    if order == "breadth":
        return list(range(len(ops)))
    keys = sorted(range(len(ops)), key=lambda i: (ops[i].layer, ops[i].tokens[0], i))
    rank = [0] * len(ops)
    for r, i in enumerate(keys):
        rank[i] = r
    return rank


def _time_block(index, block, pieces, spec, pricer, num_decode, first_layers, limit):
    """(seconds for all `block.repeat` layers, busy share-seconds of each processor over
    them, bars of the layers scheduled)."""
    layers = block.repeat
    n = min(first_layers, limit)
    while True:
        ops = layer_ops(index, block, pieces, spec, pricer, num_decode, n)
        bars = schedule(ops, priority(ops, spec.order))
        ends = [0.0] * n
        for bar in bars:
            ends[bar.op.layer] = max(ends[bar.op.layer], bar.end_s)
        if n == layers:
            return ends[-1], held_s(bars, 0.0, ends[-1]), bars
        q = max(1, n // 4)
        late = (ends[-1] - ends[-1 - q]) / q
        early = (ends[-1 - q] - ends[-1 - 2 * q]) / q if n > 2 * q else late
        if abs(late - early) <= PERIOD_TOLERANCE * late or n == limit:
            bound = max(_lower_bounds(bars))
            if bound > (1 + PERIOD_TOLERANCE) * late and n < limit:
                # Layer 0 alone needs more than the period the last layers settled on: the
                # few layers scheduled run another regime than the whole block does.
                n = limit
                continue
            period = max(late, bound)
            more = layers - n
            return ends[-1] + more * period, _busy(bars, ends, q, more, period), bars
        n = limit


def _busy(bars: list[Bar], ends: list[float], q: int, more: int, period: float) -> dict[str, float]:
    """Share-seconds of each processor up to the end of the last layer scheduled, plus
    `more` layers that each hold what the `q` layers before the last `q` held per layer
    (at most the period). Not the last `q`: nothing follows them, while in the block the
    next layer's first ops run beside every layer's last ones."""
    busy = held_s(bars, 0.0, ends[-1])
    lo, hi = (ends[-1 - 2 * q], ends[-1 - q]) if len(ends) > 2 * q else (ends[-1 - q], ends[-1])
    for processor, held in held_s(bars, lo, hi).items():
        busy[processor] = busy.get(processor, 0.0) + more * min(period, held / q)
    return busy


def _lower_bounds(bars: list[Bar]) -> list[float]:
    """Seconds per layer that each lane (one op at a time) and each processor's units
    (shares sum to <= 1) must be busy for."""
    lane_s: dict[tuple[str, Resource], float] = {}
    unit_s: dict[str, float] = {}
    for bar in bars:
        op = bar.op
        if op.layer == 0:
            lane = (op.processor, op.resource)
            lane_s[lane] = lane_s.get(lane, 0.0) + bar.end_s - bar.start_s
            unit_s[op.processor] = unit_s.get(op.processor, 0.0) + bar.share * (
                bar.end_s - bar.start_s
            )
    return [*lane_s.values(), *unit_s.values()]


def _run_alone(block: PricedBlock, work: dict[str, ProcessorWork]) -> float:
    seconds = 0.0
    for placed in block.placed():
        seconds += placed.time_s * block.repeat
        _credit(work, placed.processor, placed.op, placed.time_s, block.repeat)
    return seconds


def _credit(work, processor: str, op: Op | None, busy_s: float, repeat: int) -> None:
    w = work.get(processor)
    if w is None:
        w = work[processor] = ProcessorWork()
    w.busy_s += busy_s * repeat
    if op is not None:
        w.flops += op.flops * repeat
        w.bytes += op.bytes * repeat
        w.write_bytes += op.write_bytes * repeat
        w.ops_by_kind[op.name] = w.ops_by_kind.get(op.name, 0.0) + repeat


def _stages(bars: list[Bar]) -> tuple[tuple[Placed, ...], ...]:
    # Each nano-op with its time alone (as `Pricer.time` and a device worker price it);
    # the overlap is in the iteration's duration, not in the ops' times.
    return tuple((Placed(bar.op.op, bar.op.processor, bar.op.alone_s),) for bar in bars)
