"""Peak memory of each edge node, and the replica's KV budget (or OOM) from it.

What is resident on a node at its peak (TPI-LLM Prop. 5 leaves all but the weights to an
empirical factor gamma; here each part is modelled):
- weights: the heaviest run of `window` consecutive blocks of its cyclic block order, while
  the newest of them loads; with the scheduler off, every block. For the master with w = 2
  that is the output head and the next input embedding, Prop. 5's 2hv + h.
- the block being loaded, twice: the checkpoint's copy (FP16 for Llama 2, read by
  torch.load) and its FP32 conversion (`weight.float()` in TPI-LLM's mem_manager.py) live
  together until the copy is freed: `checkpoint_dtype_bytes` / dtype_bytes of the block.
- activations of the largest iteration: the residual stream and the normed input
  (2 x hidden), the block's widest output for this node's share, and on the master FP32
  logits of every sequence.
- the KV cache of this node's heads.
- the runtime: a Python process with PyTorch, transformers and the MXNet KV store that
  TPI-LLM imports (`runtime_bytes`; an assumption, see docs/edge.md).
A node runs out of memory when its need exceeds memory plus swap (the paper's devices
have 8 GB and 4 GB of swap); the replica then gets no KV cache and every request is
rejected, which is how the paper's table reads "OOM".
"""

from __future__ import annotations

from dataclasses import dataclass

from llmemu.core.edge.blocks import Node, block_weight_bytes
from llmemu.core.edge.defaults import CHECKPOINT_DTYPE_BYTES, RUNTIME_BYTES
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.model import ModelSpec, kv_bytes_per_token


@dataclass(frozen=True, slots=True)
class NodeMemory:
    name: str
    weights_bytes: float
    loading_bytes: float
    activation_bytes: float
    runtime_bytes: float
    kv_bytes_per_token: float
    capacity_bytes: float

    def need_bytes(self, kv_tokens: float = 0.0) -> float:
        static = self.weights_bytes + self.loading_bytes + self.activation_bytes
        return static + self.runtime_bytes + kv_tokens * self.kv_bytes_per_token


def block_order(model: ModelSpec, share: float, master: bool) -> list[float]:
    """Resident bytes of a node's blocks, in the order its window walks them."""
    layers = [block_weight_bytes(model, k, share) for k in ("attention", "ffn")]
    blocks = layers * model.num_layers
    if master:
        blocks = [block_weight_bytes(model, "input", 1.0), *blocks]
        blocks.append(block_weight_bytes(model, "output", 1.0))
    return blocks


def peak_weights(blocks: list[float], window: int, convert: float) -> tuple[float, float]:
    """(resident weights, checkpoint copy of the block loading) at the heaviest moment.

    With the scheduler on, loading block k keeps it and the window - 1 blocks before it
    (cyclically); with it off, every block up to k, once, in order."""
    n = len(blocks)
    if window == 0 or window >= n:
        moments, loaded = [], 0.0
        for b in blocks:
            loaded += b
            moments.append((loaded, b * convert))
    else:
        moments = [
            (sum(blocks[(k - j) % n] for j in range(window)), blocks[k] * convert) for k in range(n)
        ]
    return max(moments, key=sum)


def node_memory(model: ModelSpec, policy: PolicySpec, node: Node, master: bool) -> NodeMemory:
    options = policy.options
    window = policy.memory_window or 0
    convert = options.get("checkpoint_dtype_bytes", CHECKPOINT_DTYPE_BYTES) / model.dtype_bytes
    weights, loading = peak_weights(block_order(model, node.share, master), window, convert)
    tokens, dt, h = policy.max_num_batched_tokens, model.dtype_bytes, model.hidden_size
    widest = max(model.qkv_out, (model.ffn_matrices - 1) * model.ffn_size) * node.share
    acts = tokens * (2 * h + widest) * dt
    if master:
        acts += 4.0 * policy.max_num_seqs * model.vocab_size
    device = node.device
    return NodeMemory(
        name=node.name,
        weights_bytes=weights,
        loading_bytes=loading,
        activation_bytes=float(acts),
        runtime_bytes=float(options.get("runtime_bytes", RUNTIME_BYTES)),
        kv_bytes_per_token=kv_bytes_per_token(model) * node.share,
        capacity_bytes=device.memory_capacity_bytes + device.swap_bytes,
    )
