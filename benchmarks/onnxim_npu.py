"""The NeuPIMs NPU's timing as the authors' simulator computes it, in closed form.

casys-kaist/NeuPIMs builds its NPU on ONNXim's weight-stationary core
(configs/systolic_ws_128x128_dev.json: 8 arrays of 128 x 128 at 1 GHz; its "sram_size" of
134218 KB is what Common.cc reads as the scratchpad, the "spad_size" of 1024 is not read).
What sets a GEMM's time there, read from the released code:
- MatMul::calculate_loops splits (tokens, K, N) into L2 tiles by halving the largest side until
  the three operands fit half the scratchpad (double buffered), each side padded to 128; every
  GEMM of the NeuPIMs grid fits in one or two tiles.
- MatMul runs transposed (`_is_transposed = true`): the activation tile (K x tokens) is
  stationary and weight rows stream. Per 128 x 128 stationary block: one GEMM_PRELOAD, then one
  GEMM per further 128 weight rows; every instruction streams 128 / 8 = 16 rows (the 8 arrays
  work as one, NeuPIMSystolicWS counts 128 x 8 x 2 FLOP per busy cycle).
- NeuPIMSystolicWS::issue_ex_inst: a PRELOAD starts core_height = 128 cycles after the previous
  instruction, a GEMM max(size, 4) = 16 cycles after it.
So a block costs 128 + 16 (p - 1) cycles for p weight passes: large GEMMs keep the arrays
0.77-0.93 busy, and below about 256 tokens the weights' DRAM reads bind. Decode attention
(q.K^T then s.V per head) is the same MatMul with one token row: every 128 tokens of s.V need
their own 128-cycle preload, so attention runs one head at a time far below the DRAM rate.
"""

from __future__ import annotations

import math

CORE = 128
"""core_height = core_width: rows of a stationary block, cycles of one preload."""
ROWS_PER_INSTRUCTION = CORE // 8
"""MatMul: `.size = loop_size / 8` (8 arrays share each instruction's 128 rows)."""
HALF_SCRATCHPAD_BYTES = 134218 * 1024 // 2
"""Half the scratchpad (calculate_loops double-buffers): Common.cc initialize_config reads
spad_size from the config's "sram_size" (134218 KB), not from its "spad_size" (1024)."""
PRECISION_BYTES = 2
DRAM_BYTES_PER_CYCLE = 32 * 32e9 / 1e9
"""32 HBM2 channels x 32 GB/s at the 1 GHz core clock (neupims.json)."""
DRAM_EFFICIENCY = 0.821
"""Assumed streaming fraction of DRAMsim3's HBM2 (the a100 preset's measured fraction)."""
PEAK_FLOPS_PER_CYCLE = 8 * CORE * CORE * 2


def _padded(x: int) -> int:
    return -(-x // CORE) * CORE


def l2_tile(tokens: int, k: int, n: int) -> tuple[list[int], list[int]]:
    """(inner sizes, outer counts) for (tokens, K, N): MatMul::calculate_loops."""
    inner, outer = [tokens, k, n], [1, 1, 1]

    def need(dims: list[int]) -> int:
        t, kk, nn = (_padded(d) for d in dims)
        return (t * kk + kk * nn + nn * t) * PRECISION_BYTES

    while need(inner) > HALF_SCRATCHPAD_BYTES:
        i = inner.index(max(inner))
        outer[i] *= 2
        inner[i] = (inner[i] & 1) + (inner[i] >> 1)
    return inner, outer


def gemm_cycles(tokens: int, k: int, n: int) -> float:
    """Cycles of a (tokens x K) @ (K x N) MatMul on one NPU."""
    (t, kk, nn), (ot, ok, on) = l2_tile(tokens, k, n)
    blocks = math.ceil(t / CORE) * math.ceil(kk / CORE)
    passes = math.ceil(nn / CORE)
    compute = blocks * (CORE + ROWS_PER_INSTRUCTION * (passes - 1))
    loads = (nn * kk + kk * t) * PRECISION_BYTES + nn * t * PRECISION_BYTES / ok
    memory = loads / (DRAM_BYTES_PER_CYCLE * DRAM_EFFICIENCY)
    return ot * ok * on * max(compute, memory)


def softmax_cycles(context: int, width: int = 128) -> int:
    """SystolicWS::get_vector_compute_cycles for SOFTMAX (all latencies 1 cycle)."""
    iters = math.ceil(context / width)
    tree, size = 0, context
    while True:  # calculate_add_tree_iterations
        if size <= width:
            tree += 1
            break
        size = math.ceil(size / width)
        tree += size
    return 2 * tree + iters * 3


def attention_head_cycles(context: int, head_dim: int = 128) -> float:
    """One request's decode attention for one head: q.K^T, softmax, s.V."""
    score = gemm_cycles(1, head_dim, context)
    attend = gemm_cycles(1, context, head_dim)
    return score + softmax_cycles(context) + attend
