"""Decode attention on bank PIM, priced command by command as NeuPIMs' simulator issues it.

Restates casys-kaist/NeuPIMs (main 1092220 = NeuPIMs, branch npu+pim e51a4af = the naive
NPU+PIM baseline) with its NewtonSim memory model; the preset's `pim_commands` holds the
parameters, each with its source. Per request, on the one channel its KV lives in:
- K^T.q (src/operations/NeuPIMSLogitSoftmax.cc): the query is loaded once per row of
  `page_elements` query elements (a GWRITE), then one tile per `banks` tokens of context, each
  a new row in every bank with one compute group per head (`page_elements / head_elements`
  heads per row);
- s.V (src/operations/NeuPIMSAttend.cc): per head and per `page_elements` tokens, the scores
  are loaded (a GWRITE), then `head_elements / banks` tiles of one group over those tokens.
A tile costs a row switch plus its groups' compute windows (newton_pim_timing.py restates the
controller's cycles). Each channel works through its own requests; the K^T.q of every
request ends before s.V starts (the second operation reads the first's softmax).
How commands reach the channels differs between the two branches:
- `per-channel` (NeuPIMs): the NPU queues every command at once, the channels run in
  parallel, and an operation lasts as long as its busiest channel;
- `one-per-cycle` (NPU+PIM): NeuPIMSystolicWS::pim_ld_queue_cycle hands over one command per
  NPU cycle, requests in channel order (the batch is built channel by channel), so channel k
  starts only once the commands of channels 0..k-1 have been handed over.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from llmemu.core.specs.pim import PimCommands


def tile_cycles(groups: int, comps: int, pc: PimCommands) -> int:
    """One tile: a row switch, then `groups` compute groups of `comps` steps each."""
    if pc.readout == "fused":
        # the last group's window overlaps the next row switch; the others hold the channel
        return pc.row_switch_cycles + (groups - 1) * pc.comp_cycles * (
            max(comps, pc.min_group_comps) + 1
        )
    # n compute steps and a read-out per group; the row closes after the last read-out
    return pc.row_switch_cycles + groups * pc.comp_cycles * (comps + 1) - pc.comp_cycles


def _group_commands(groups: int, comps: int, pc: PimCommands) -> int:
    per_group = 1 if pc.readout == "fused" else comps + 1
    return 1 + groups * per_group  # the tile's header, then its groups


def k_request(context: int, elements: int, pc: PimCommands) -> tuple[int, int]:
    """(cycles, commands) of one request's K^T.q on its channel; `elements`: query elements
    per token on this device (heads x head size)."""
    heads_per_row = pc.page_elements // pc.head_elements
    tiles = math.ceil(context / pc.banks)
    comps = math.ceil(pc.head_elements / pc.comp_elements)
    cycles = commands = 0
    for start in range(0, elements, pc.page_elements):
        heads = min(heads_per_row, math.ceil((elements - start) / pc.head_elements))
        cycles += pc.gwrite_cycles + tiles * tile_cycles(heads, comps, pc)
        commands += 1 + tiles * _group_commands(heads, comps, pc)
    return cycles, commands


def v_request(context: int, elements: int, pc: PimCommands) -> tuple[int, int]:
    """(cycles, commands) of one request's s.V on its channel."""
    heads = math.ceil(elements / pc.head_elements)
    tiles = math.ceil(pc.head_elements / pc.banks)
    cycles = commands = 0
    for start in range(0, context, pc.page_elements):
        comps = math.ceil(min(pc.page_elements, context - start) / pc.comp_elements)
        cycles += pc.gwrite_cycles + tiles * tile_cycles(1, comps, pc)
        commands += 1 + tiles * _group_commands(1, comps, pc)
    return heads * cycles, heads * commands


def operation_cycles(per_channel: Sequence[tuple[float, float]], pc: PimCommands) -> float:
    """Cycles until every channel has run its (cycles, commands), channels in order."""
    if pc.issue == "per-channel":
        return max((c for c, _ in per_channel), default=0.0)
    handed = done = 0.0
    for cycles, commands in per_channel:
        if commands:
            done = max(done, handed + max(cycles, commands))
            handed += commands
    return done


def channel_loads(
    contexts: Sequence[int], placed: Sequence[int], channels: int, elements: int, pc: PimCommands
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Per channel, the (cycles, commands) of its requests' K^T.q and of their s.V."""
    k = [(0.0, 0.0)] * channels
    v = [(0.0, 0.0)] * channels
    memo: dict[int, tuple[tuple[int, int], tuple[int, int]]] = {}
    for context, c in zip(contexts, placed, strict=True):
        if context not in memo:
            memo[context] = (k_request(context, elements, pc), v_request(context, elements, pc))
        (kc, kn), (vc, vn) = memo[context]
        k[c] = (k[c][0] + kc, k[c][1] + kn)
        v[c] = (v[c][0] + vc, v[c][1] + vn)
    return k, v


def balanced_loads(
    requests: int, context: float, channels: int, elements: int, pc: PimCommands
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """As channel_loads for `requests` of the mean `context`, spread evenly (a batch that
    gives only its summed context)."""
    used = min(requests, channels)
    share = requests / used if used else 0.0
    mean = max(1, round(context))
    (kc, kn), (vc, vn) = k_request(mean, elements, pc), v_request(mean, elements, pc)
    k = [(kc * share, kn * share)] * used
    v = [(vc * share, vn * share)] * used
    return k, v


def attention_s(
    k: Sequence[tuple[float, float]], v: Sequence[tuple[float, float]], pc: PimCommands
) -> float:
    """Seconds of one layer's decode attention: K^T.q on every channel, then s.V."""
    return (operation_cycles(k, pc) + operation_cycles(v, pc)) / pc.clock_hz
