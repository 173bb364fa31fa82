"""One replica of a fleet as the driver and the routers see it, and one request's journey
through the fleet (a prefill replica, a KV transfer, a decode replica)."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

from llmemu.core.engine import Engine
from llmemu.core.fleet.link import Transfer
from llmemu.core.fleet.load import LoadSeries
from llmemu.core.fleet.prompts import Segments, block_hashes
from llmemu.core.replica import Replica
from llmemu.core.request import Request
from llmemu.core.simulate import Recorder


def compact_recorder() -> Recorder:
    """A Recorder whose per-step samples are machine numbers (8 bytes each) rather than
    Python objects in lists: a fleet takes millions of steps."""
    return Recorder(
        itl_first=array("d"), itl_slope=array("d"), itl_count=array("q"), itl_weight=array("q")
    )  # type: ignore[arg-type]  # append, extend and len are all the summary uses


@dataclass(eq=False)
class FleetReplica:
    name: str
    pool: str
    role: str
    """mixed, prefill or decode (core/fleet/spec.py)."""
    replica: Replica
    recorder: Recorder = field(default_factory=lambda: compact_recorder())
    assigned: int = 0
    """Requests routed to it so far."""
    load: LoadSeries = field(default_factory=LoadSeries)
    """Batch size ("batch") and KV usage ("kv") integrated over time, for the load picture."""
    free_at: float = 0.0
    """When its current step ends (or ended)."""
    index: int = 0
    """Position in the driver's list (the heap's key for it)."""
    kv_load_s: float = 0.0
    """Seconds spent copying prefix blocks back from the host tier."""
    stepping: bool = False
    """In the driver's heap of replicas with a step to take."""

    caches_prefixes: bool = field(init=False)
    """Its KV cache keeps prefixes (and takes their hashes when a request arrives)."""
    engine: Engine = field(init=False)

    def __post_init__(self) -> None:
        self.engine = self.replica.engine
        self.caches_prefixes = hasattr(self.engine.kv, "set_hashes")

    @property
    def num_waiting(self) -> int:
        return len(self.replica.engine.scheduler.waiting)

    @property
    def num_running(self) -> int:
        return len(self.replica.engine.scheduler.running)

    @property
    def kv_usage(self) -> float:
        return self.replica.engine.kv.usage

    @property
    def num_assigned(self) -> int:
        return self.assigned

    @property
    def block_size(self) -> int:
        return self.replica.engine.kv.block_size

    def cached_blocks(self, hashes: tuple[int, ...]) -> int:
        """Leading blocks of a prompt this replica's KV cache holds (0 without caching)."""
        return self.replica.engine.kv.cached_prefix_blocks(hashes)


@dataclass(slots=True, eq=False)
class FleetRequest:
    index: int
    arrival_s: float
    prompt_tokens: int
    output_tokens: int
    segments: Segments | None = None
    session: int | None = None
    prefill: Request | None = None
    """The request on the replica that computed its prompt."""
    served: Request | None = None
    """The request that produced its last token (the prefill one unless disaggregated)."""
    transfer: Transfer | None = None
    kv_bytes: float = 0.0
    """Bytes of prompt KV handed from its prefill to its decode replica."""
    prefill_replica: int = -1
    """Index of the replica that computed its prompt."""
    _hashes: dict[int, tuple[int, ...]] | None = None

    def hashes(self, block_size: int) -> tuple[int, ...]:
        """Chained keys of the full blocks of `block_size` tokens of the prompt, and of
        the answer where the workload knows its content (a session's next turn repeats it)."""
        if self.segments is None:
            return ()
        if self._hashes is None:
            self._hashes = {}
        keys = self._hashes.get(block_size)
        if keys is None:
            known = self.prompt_tokens + self.output_tokens
            keys = self._hashes[block_size] = block_hashes(self.segments, block_size, known)
        return keys
