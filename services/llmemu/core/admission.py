"""When the scheduler may admit a waiting request, beyond budget and sequence slots.

`greedy` (vLLM): whenever the request's next chunk fits in the free KV blocks; running
requests that later cannot grow are preempted and recomputed (scheduler.py).

`projected-peak` (NanoFlow): only when the KV pool holds the request's whole prompt and
output beside the peak that the running requests will reach. NanoFlow's serving loop
(efeslab/Nanoflow pipeline/utils/serve_8B.py, `check_future_page_usage` and
`schedule_req`, the executor of its offline evaluation) projects every running request
one token per iteration from its current length to its full length, after which it frees
its pages, takes the maximum of the summed pages over the future, and admits while
`capacity - max(future_page_usage) > (prompt + output + page_size) // page_size`. Its KV
pool has no eviction (`kv_cache.py` asserts "Out of memory"), so this rule is what keeps a
run from running out. Differences: NanoFlow projects with the trace's average lengths,
we with each request's own (the same for constant-length traces); pages are bounded
above per request (at most one partly filled block each) instead of counted exactly.

The exact peak is not a running sum: it depends on when each request finishes, so one
check sorts the running requests (O(n log n), only under `projected-peak`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from llmemu.core.errors import ConfigError
from llmemu.core.kvcache import blocks_for
from llmemu.core.request import Request

ADMISSIONS = ("greedy", "projected-peak")


def check_admission(name: str) -> str:
    if name not in ADMISSIONS:
        raise ConfigError(
            f"policy.admission: {name!r} is not one of {', '.join(ADMISSIONS)}; "
            "greedy is vLLM's default, projected-peak NanoFlow's"
        )
    return name


def projected_peak_blocks(running: Sequence[Request], block_size: int) -> int:
    """Most KV blocks the running requests will hold at once if each grows one token per
    iteration to prompt + max_output tokens and then frees its blocks.

    A request now knowing k tokens with r = final - k still to go holds k + 1 + t tokens at
    iteration t < r. The sum only grows between finishes, so its peak is just before one:
    at t = r_s - 1 it is the sum over requests with r >= r_s of (k + r_s) tokens."""
    if not running:
        return 0
    known = np.fromiter((q.known_tokens for q in running), np.int64, len(running))
    final = np.fromiter(
        (q.prompt_tokens + q.max_output_tokens for q in running), np.int64, len(running)
    )
    rem = np.maximum(final - known, 1)
    order = np.argsort(-rem, kind="stable")
    rem, known = rem[order], known[order]
    count = np.arange(1, len(rem) + 1, dtype=np.int64)
    tokens = np.cumsum(known) + count * rem
    # Each request's last block may be partly filled: at most block_size - 1 tokens more.
    blocks = (tokens + count * (block_size - 1)) // block_size
    return int(blocks.max())


def fits_projected_peak(
    req: Request, running: Sequence[Request], num_blocks: int, block_size: int
) -> bool:
    """NanoFlow's rule: `req` whole (prompt + max output) fits beside the projected peak."""
    whole = blocks_for(req.prompt_tokens + req.max_output_tokens, block_size)
    return projected_peak_blocks(running, block_size) + whole <= num_blocks
