"""The Redis layout of the distributed deployment, and how messages are written into it.

- `llmemu:epoch`: the wall time (Unix seconds) at which emulated time 0 is, shared by every
  gateway and scheduler, so an arrival stamped by a gateway means the same to any scheduler
  (also to one restarted later, which then counts the outage in the request's latency).
- `llmemu:req:<replica>`: a stream of commands (submit, abort) for one scheduler replica,
  read through the consumer group `schedulers`. An entry stays pending until the scheduler
  finished or failed its sequence, so a restarted scheduler finds it again.
- `llmemu:ev:<gateway>`: a stream of token events for one gateway, one entry per iteration.
- `llmemu:replicas`: a hash, replica -> JSON load (waiting, running, kv usage, healthy, time),
  which gateways read to pick the replica of each request.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict

from llmemu.protocol.internal import AbortSequence, SubmitSequence, TokenEvent

EPOCH_KEY = "llmemu:epoch"
REPLICAS_KEY = "llmemu:replicas"
GROUP = "schedulers"
EVENTS_MAXLEN = 10_000
"""Entries kept per gateway stream: far more than a gateway has unread at any time."""


def request_stream(replica: str) -> str:
    return f"llmemu:req:{replica}"


def event_stream(gateway: str) -> str:
    return f"llmemu:ev:{gateway}"


def encode_submit(seq: SubmitSequence, gateway: str) -> dict[str, str]:
    return {"t": "submit", "gw": gateway, "m": json.dumps(asdict(seq))}


def encode_abort(seq_id: str) -> dict[str, str]:
    return {"t": "abort", "m": seq_id}


def decode_command(fields: dict) -> tuple[SubmitSequence | AbortSequence, str | None]:
    """A stream entry -> (command, gateway it came from, for a submit)."""
    kind = fields.get("t")
    if kind == "submit":
        return SubmitSequence(**json.loads(fields["m"])), fields["gw"]
    if kind == "abort":
        return AbortSequence(fields["m"]), None
    raise ValueError(f"unknown command type {kind!r} in a request stream entry")


def encode_events(by_reply: dict[str, list[TokenEvent]]) -> dict[str, str]:
    body = {reply: [asdict(ev) for ev in events] for reply, events in by_reply.items()}
    return {"e": json.dumps(body, separators=(",", ":"))}


def decode_events(fields: dict) -> dict[str, list[TokenEvent]]:
    body = json.loads(fields["e"])
    return {reply: [TokenEvent(**ev) for ev in events] for reply, events in body.items()}


def encode_load(
    model: str, waiting: int, running: int, kv_usage: float, healthy: bool, why: str | None
) -> str:
    return json.dumps(
        {
            "model": model,
            "waiting": waiting,
            "running": running,
            "kv": kv_usage,
            "healthy": healthy,
            "why": why,
            "t": time.time(),
        }  # fmt: skip
    )


async def shared_epoch(redis, mine: float | None = None) -> float:
    """The deployment's emulated-time origin: set by whichever service comes first. After
    Redis lost its data, services re-assert the epoch they had (`mine`) on reconnecting, so
    the deployment keeps one time line."""
    await redis.set(EPOCH_KEY, repr(time.time() if mine is None else mine), nx=True)
    return float(await redis.get(EPOCH_KEY))
