"""The `nanoflow` batching policy: the scheduler's token budget is the dense batch, and each
iteration is priced as NanoFlow's nano-batch pipeline (pipeline.py) on that batch."""

from __future__ import annotations

from llmemu.core.cost import Pricer
from llmemu.core.nanoflow.pipeline import PipelineTiming, time_pipeline
from llmemu.core.nanoflow.spec import PipelineSpec, pipeline_from_options
from llmemu.core.ops import BatchShape
from llmemu.core.pricing import ExpertRouting, IterationCost, PlanPricer, ProcessorWork
from llmemu.core.routing import Router
from llmemu.core.specs.model import ModelSpec
from llmemu.core.timeline import serial

# Decode-only runs and identical prefill mixes recur; a bounded memo keeps pricing cheap.
_MEMO_ENTRIES = 4096


class NanoFlowPricer(PlanPricer):
    """Prices a batch as nano-operations overlapping on one device's resource lanes."""

    def __init__(
        self,
        model: ModelSpec,
        pricer: Pricer,
        router: Router,
        spec: PipelineSpec,
        experts: ExpertRouting | None = None,
        *,
        keep_plan: bool = False,
    ) -> None:
        super().__init__(model, pricer, router, serial, experts, keep_plan=keep_plan)
        self.spec = spec
        self._memo: dict[BatchShape, PipelineTiming] = {}

    def timing(self, batch: BatchShape) -> PipelineTiming:
        found = self._memo.get(batch)
        if found is None:
            if len(self._memo) >= _MEMO_ENTRIES:
                self._memo.clear()
            found = self._memo[batch] = time_pipeline(
                self.model, batch, self.spec, self.pricer, self.router
            )
        return found

    def price(self, batch: BatchShape) -> IterationCost:
        timing = self.timing(batch)
        work = {name: _copy(w) for name, w in timing.work.items()}
        return IterationCost(timing.duration_s, work, timing.plan if self.keep_plan else None)


def _copy(work: ProcessorWork) -> ProcessorWork:
    # Callers may accumulate into the work they get; the memoised one must stay untouched.
    out = ProcessorWork()
    out.add(work)
    return out


def nanoflow(parts) -> PlanPricer:
    """BATCHING factory: the pipeline from `policy.options` (defaults: the paper's)."""
    spec = pipeline_from_options(parts.policy.max_num_batched_tokens, parts.policy.options)
    return NanoFlowPricer(parts.model, parts.pricer, parts.router, spec, parts.experts)
