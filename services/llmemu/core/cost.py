"""The cost model: how long one operation takes on one processor of the replica.

time = max(FLOPs / effective compute, bytes / effective bandwidth) + overhead, per layer,
with the work spread over the `tensor_parallel` devices. Collectives are priced by the
system's all-reduce algorithm. `ideal=True` sets every efficiency to 1 and drops overheads,
as the papers' own estimates do (NanoFlow Table 2 "Est").
"""

from __future__ import annotations

from dataclasses import dataclass

from llmemu.core.collectives import AllReduce, LinkModel, ring
from llmemu.core.ops import Op, OpKind
from llmemu.core.specs.device import DeviceSpec
from llmemu.core.specs.system import SystemSpec


@dataclass(frozen=True, slots=True)
class Rates:
    """A processor's effective rates for one dtype, as plain floats for the hot path."""

    flops: float
    attention_flops: float
    bytes_per_s: float
    half_tokens: float
    overhead_s: float
    request_tokens: float = 0.0
    """Decode attention: tokens of context each request costs beyond its own."""

    @classmethod
    def of(
        cls, device: DeviceSpec, dtype_bytes: int, *, ideal: bool = False, sustained: bool = False
    ) -> Rates:
        """`sustained`: compute at the clock a GPU holds under a full serving load (its
        power limit) instead of the isolated-kernel rate the efficiencies were fitted to."""
        peak = device.flops_for(dtype_bytes)
        bw = device.compute_bytes_per_s
        if ideal:
            return cls(peak, peak, bw, 0.0, 0.0)
        eff = device.efficiency
        clock = eff.sustained_clock if sustained else 1.0
        return cls(
            flops=peak * eff.compute_for(dtype_bytes) * clock,
            attention_flops=peak * (eff.attention_compute or eff.compute) * clock,
            bytes_per_s=bw * eff.memory,
            half_tokens=eff.compute_half_tokens,
            overhead_s=device.op_overhead_s,
            request_tokens=eff.attention_request_tokens,
        )

    def compute_time(self, op: Op) -> float:
        """Seconds for the op's FLOPs on one device's worth of work (caller divides by TP)."""
        if op.kind is OpKind.ATTENTION:
            return op.flops / self.attention_flops
        if self.half_tokens and op.tokens:
            return op.flops * (op.tokens + self.half_tokens) / (op.tokens * self.flops)
        return op.flops / self.flops


class Pricer:
    """Prices ops on the processors of one system."""

    def __init__(
        self,
        system: SystemSpec,
        dtype_bytes: int,
        *,
        allreduce: AllReduce = ring,
        ideal: bool = False,
        sustained: bool = False,
    ) -> None:
        self.system = system
        self.tp = system.tensor_parallel
        self.dtype_bytes = dtype_bytes
        self.ideal = ideal
        self.sustained = sustained
        self.rates = {
            p.name: Rates.of(p.device, dtype_bytes, ideal=ideal, sustained=sustained)
            for p in system.processors
        }
        self._rates_by_width: dict[tuple[str, int], Rates] = {}
        self.allreduce = allreduce
        link = system.interconnect
        network_eff = 1.0 if ideal else system.primary.device.efficiency.network
        self.link = LinkModel(
            devices=self.tp,
            bytes_per_s=(link.bytes_per_s * network_eff) if link else float("inf"),
            latency_s=(0.0 if ideal or link is None else link.latency_s),
            topology=system.topology,
        )
        self._memo: dict[tuple[Op, str], float] = {}
        self._memos: dict[str, dict] = {}

    def time(self, op: Op, processor: str) -> float:
        """Seconds for one layer's instance of `op` on `processor` of every device.

        GEMMs and collectives recur with the same shape every iteration, so their prices are
        memoised; attention changes with the context every iteration and is not."""
        if op.kind is OpKind.ATTENTION:
            return self._time(op, processor)
        key = (op, processor)
        seconds = self._memo.get(key)
        if seconds is None:
            if len(self._memo) > 65536:
                self._memo.clear()
            seconds = self._memo[key] = self._time(op, processor)
        return seconds

    def time_once(self, op: Op, processor: str) -> float:
        """`time` without its memo, for a caller that keeps the result itself (a priced
        part is memoised whole: caching its ops too only fills the memo)."""
        return self._time(op, processor)

    def memo(self, owner: str) -> dict:
        """A cache that lives as long as this pricer, for a router's decisions about the ops
        and stages the planner shares (hashed by identity; the cache keeps them alive, so an
        id is never reused while cached)."""
        cache = self._memos.setdefault(owner, {})
        if len(cache) > 65536:
            cache.clear()
        return cache

    def rates_for(self, op: Op, processor: str) -> Rates:
        """The processor's rates for the op's arithmetic width (FP8 GEMMs: the FP8 peak)."""
        width = op.compute_bytes
        if not width or width == self.dtype_bytes:
            return self.rates[processor]
        key = (processor, width)
        rates = self._rates_by_width.get(key)
        if rates is None:
            device = next(p.device for p in self.system.processors if p.name == processor)
            rates = Rates.of(device, width, ideal=self.ideal, sustained=self.sustained)
            self._rates_by_width[key] = rates
        return rates

    def _time(self, op: Op, processor: str) -> float:
        rates = self.rates_for(op, processor)
        if op.kind is OpKind.COLLECTIVE:
            return self.allreduce(op.payload_bytes, self.link) + rates.overhead_s
        compute = rates.compute_time(op) / self.tp
        memory = op.bytes / (rates.bytes_per_s * self.tp)
        seconds = compute if compute > memory else memory
        if rates.request_tokens and op.context_tokens:
            # Per-request fixed work at the op's own per-token rate: C + n x pad tokens.
            seconds *= 1.0 + rates.request_tokens * op.tokens / op.context_tokens
        return seconds + rates.overhead_s
