"""Where a sequence the gateway waits on stands, asked of Redis when it has been quiet.

A gateway hears of its sequences only through their token events. A sequence that has been
quiet a while is usually waiting for a free slot, but it may also be one whose end will never
come: its scheduler replica died and is not coming back, or its last events were lost (the
replica acknowledges an entry only after writing its end event, so an acknowledged entry
whose end never reached the gateway was lost on the way). The gateway asks here, and fails
those with an explicit error: every accepted request ends with its tokens or an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from llmemu.service.distributed import redis_wire as wire

CHUNK = 500
"""Sequences asked about per round trip: a long queue does not hold the event loop."""


class Stand(Enum):
    QUEUED = "not yet read by its replica"
    RUNNING = "read by its replica and not finished"
    ENDED = "finished by its replica (entry acknowledged)"
    GONE = "no longer in Redis (it lost its data)"


@dataclass(slots=True)
class Flight:
    """A sequence submitted by this gateway and not ended here yet."""

    reply_to: str
    replica: str
    entry: str
    """Its entry in the replica's request stream."""
    heard_s: float
    """Monotonic time of its last event (or of its submission)."""
    delivered: int = 0
    """Tokens passed on to the client."""
    asked_s: float = 0.0
    """Monotonic time the watch last asked Redis about it and let it be."""


def stream_id(entry: str) -> tuple[int, int]:
    """A Redis stream entry id ("<ms>-<seq>") in its order."""
    ms, _, seq = entry.partition("-")
    return int(ms), int(seq or 0)


async def stands(redis: Redis, flights: dict[str, Flight]) -> dict[str, Stand]:
    """Each sequence's stand, asked in chunks."""
    out: dict[str, Stand] = {}
    items = list(flights.items())
    for i in range(0, len(items), CHUNK):
        out |= await _stands(redis, dict(items[i : i + CHUNK]))
    return out


async def _stands(redis: Redis, flights: dict[str, Flight]) -> dict[str, Stand]:
    """Where the schedulers' group has read up to, whether each entry is still there (a
    replica trims only entries acknowledged a minute before), then, for entries already
    read, whether they are pending. The read position is asked first: asked after, an entry
    read in between would look finished."""
    replicas = sorted({f.replica for f in flights.values()})
    pipe = redis.pipeline(transaction=False)
    for replica in replicas:
        pipe.xinfo_groups(wire.request_stream(replica))
    for f in flights.values():
        pipe.xrange(wire.request_stream(f.replica), f.entry, f.entry, count=1)
    replies = await pipe.execute(raise_on_error=False)
    positions = dict(zip(replicas, map(_group_position, replies[: len(replicas)]), strict=True))
    out, read = {}, {}
    for (seq_id, f), found in zip(flights.items(), replies[len(replicas) :], strict=True):
        position = positions[f.replica]
        if position is None or not _holds(_reply(found), seq_id):
            out[seq_id] = Stand.GONE
        elif stream_id(f.entry) > position:
            out[seq_id] = Stand.QUEUED
        else:
            read[seq_id] = f
    if read:
        pipe = redis.pipeline(transaction=False)
        for f in read.values():
            pipe.xpending_range(wire.request_stream(f.replica), wire.GROUP, f.entry, f.entry, 1)
        pending = await pipe.execute(raise_on_error=False)
        for seq_id, listed in zip(read, pending, strict=True):
            out[seq_id] = Stand.RUNNING if _reply(listed) else Stand.ENDED
    return out


def _holds(entries: list, seq_id: str) -> bool:
    """The entry is this sequence's (after Redis lost its data, a new entry can get the id
    an old one had)."""
    return any(fields and wire.decode_command(fields)[0].seq_id == seq_id for _, fields in entries)


def _reply(reply) -> list:
    """A list reply, or the error it is raised."""
    if isinstance(reply, Exception):
        raise reply
    return reply


def _group_position(reply) -> tuple[int, int] | None:
    """The schedulers' group's last read entry; (0, 0) if no scheduler made the group yet,
    None if the stream itself is gone."""
    if isinstance(reply, ResponseError) and "no such key" in str(reply).lower():
        return None
    for group in _reply(reply):
        if group["name"] == wire.GROUP:
            return stream_id(group["last-delivered-id"])
    return (0, 0)


async def stream_tail(redis: Redis, stream: str) -> str:
    """The id of a stream's newest entry ("0-0" when it has none)."""
    newest = await redis.xrevrange(stream, count=1)
    return newest[0][0] if newest else "0-0"
