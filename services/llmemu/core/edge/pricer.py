"""`policy.batching: edge`: iterations of an edge cluster, priced node by node.

Every node computes its share of each block with its own device's rates, all-reduces after
each attention and FFN block with `policy.allreduce` over the system's topology, and
streams its weights through a window of `policy.memory_window` blocks (0: all resident).
The engine above is the usual one, so single-user serving (`max_num_seqs: 1`) and batched
serving differ only in the batches it forms.

Per-node time by activity rides in `ProcessorWork.seconds` under `<node>/<activity>` keys,
so the engine's fused runs and the recorder's sums carry it like every other work figure.
"""

from __future__ import annotations

from llmemu.core.catalog import load_device
from llmemu.core.collectives import get_allreduce
from llmemu.core.cost import Rates
from llmemu.core.edge.blocks import Node, iteration_steps
from llmemu.core.edge.collectives import broadcast
from llmemu.core.edge.window import run_window
from llmemu.core.errors import ConfigError
from llmemu.core.ops import BatchShape
from llmemu.core.parts import Parts
from llmemu.core.pricing import IterationCost, PlanPricer, ProcessorWork
from llmemu.core.specs.system import SystemSpec
from llmemu.core.timeline import serial

ACTIVITIES = ("compute", "communication", "barrier", "disk", "stall")


def edge_nodes(system: SystemSpec, dtype_bytes: int) -> tuple[Node, ...]:
    """The nodes of the replica: the topology's, or `tensor_parallel` copies of the primary."""
    primary = system.primary.device
    if system.topology is None:
        tp = system.tensor_parallel
        rates = Rates.of(primary, dtype_bytes)
        return tuple(Node(f"node{i}", primary, 1.0 / tp, rates) for i in range(tp))
    nodes = []
    shares = system.topology.shares()
    for spec, share in zip(system.topology.nodes, shares, strict=True):
        device = load_device(spec.device) if spec.device else primary
        nodes.append(Node(spec.name, device, share, Rates.of(device, dtype_bytes)))
    return tuple(nodes)


class EdgePlanPricer(PlanPricer):
    """Prices an iteration by running the sliding-window timeline over the nodes."""

    def __init__(self, parts: Parts) -> None:
        super().__init__(parts.model, parts.pricer, parts.router, serial, parts.experts)
        self.nodes = edge_nodes(parts.pricer.system, parts.model.dtype_bytes)
        self.window = parts.policy.memory_window or 0
        self.allreduce = get_allreduce(parts.policy.allreduce)
        self.cold = cold_start(parts.policy.options)
        """The next iteration priced is the process's first: no weights resident yet."""
        for node in self.nodes:
            if self.window and not node.device.disk_bytes_per_s:
                raise ConfigError(
                    f"policy.memory_window={self.window} streams weights from disk but device "
                    f"{node.device.name!r} of node {node.name!r} has disk_bytes_per_s 0; set "
                    "it in the device preset or turn the window off (memory_window: 0)"
                )

    def price(self, batch: BatchShape) -> IterationCost:
        model, link = self.model, self.pricer.link
        payload = float(batch.num_tokens * model.hidden_size * model.dtype_bytes)
        allreduce_s = broadcast_s = 0.0
        if len(self.nodes) > 1:
            allreduce_s = self.allreduce(payload, link)
            broadcast_s = broadcast(payload, link.graph())
        steps = iteration_steps(model, batch, self.nodes, allreduce_s, broadcast_s)
        duration, times = run_window(steps, self.window, cold=self.cold)
        self.cold = False
        seconds = {}
        for node, spent in zip(self.nodes, times, strict=True):
            for activity in ACTIVITIES:
                seconds[f"{node.name}/{activity}"] = getattr(spent, f"{activity}_s")
        layers = float(model.num_layers)
        work = ProcessorWork(
            busy_s=max(t.compute_s for t in times),
            flops=sum(t.flops for t in times),
            bytes=sum(t.bytes for t in times),
            ops_by_kind={"attention": layers, "ffn": layers, "allreduce": 2 * layers},
            seconds=seconds,
        )
        if batch.num_logits:
            work.ops_by_kind["lm_head"] = 1.0
        # Reports list a representative iteration's ops: the planner's, priced at the
        # replica's TP; the per-node edge times are in `seconds`.
        plan = self.router(self.plan(batch), self.pricer) if self.keep_plan else None
        return IterationCost(duration, {self.pricer.system.primary.name: work}, plan)


def cold_start(options: dict) -> bool:
    """`policy.options.cold_start`: the replica is a fresh process (TPI-LLM's run script
    loads the model lazily and serves one prompt), so its first iteration starts with no
    block resident. Off by default: a serving replica has warmed up long before."""
    value = options.get("cold_start", False)
    if not isinstance(value, bool):
        raise ConfigError(
            f"policy.options.cold_start={value!r} must be true or false (true: the first "
            "iteration starts with no weights in memory, as a freshly started TPI-LLM)"
        )
    return value


def edge(parts: Parts) -> PlanPricer:
    return EdgePlanPricer(parts)
