"""A decode attention op keeps its context across the scheduler-to-worker wire, so a remote
NeuPIMs device charges the same per-request work as the embedded one."""

from __future__ import annotations

from llmemu.core.ops import BatchShape
from llmemu.core.planner import attn_decode
from llmemu.core.specs.loading import load_model
from llmemu.protocol.device import OpWire
from llmemu.service.distributed.device_client import _wire
from llmemu.service.distributed.device_worker import _op


def test_context_tokens_survive_the_wire():
    op = attn_decode(load_model("gpt3-7b"), BatchShape(num_decode=4, decode_context=1200))
    back = _op(OpWire(**_wire(op, layers=32)))
    assert (back.tokens, back.context_tokens, back.flops) == (4, 1200, op.flops)
