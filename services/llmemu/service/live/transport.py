"""How the gateway and the scheduler service talk: two small protocols and the in-memory
transport of the embedded default. A Redis or HTTP transport (issue 7) implements the same
two protocols; neither side knows which one it has.

Events are published per iteration and per `reply_to` (one list per gateway request), so
a network transport sends one message per iteration per request, never one per token. The
engine loop stages an iteration's events before the iteration ends and releases them when it
does: the in-memory transport has its subscribers format their chunks in between, so that
the release is only the writes; a network transport sends them at the release.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Protocol

from llmemu.protocol.internal import AbortSequence, SchedulerLoad, SubmitSequence, TokenEvent

Command = SubmitSequence | AbortSequence
Events = list[TokenEvent] | None
"""A list of events, or None: the subscription is over (client gone, server closing)."""
Release = Callable[[], None]
"""Hands out what was staged."""


class Subscriber(Protocol):
    """Where a subscription's events go: an EventQueue, or a streaming response that
    writes them as they are published (service/api/streaming.py)."""

    def put_nowait(self, events: Events) -> None: ...
    def prepare(self, events: list[TokenEvent]) -> Release:
        """Get ready to take `events`; the call returned takes them."""
        ...


class EventQueue(asyncio.Queue):
    """A subscription read by a task (a whole JSON answer): nothing to prepare."""

    def prepare(self, events: list[TokenEvent]) -> Release:
        return partial(self.put_nowait, events)


class GatewayTransport(Protocol):
    def subscribe(self, reply_to: str, subscriber: Subscriber | None = None) -> Subscriber:
        """Route `reply_to`'s events to `subscriber` (a new EventQueue if None)."""
        ...

    def unsubscribe(self, reply_to: str) -> None: ...
    def submit(self, seqs: list[SubmitSequence]) -> None: ...
    def abort(self, seq_ids: list[str]) -> None: ...
    def load(self) -> SchedulerLoad: ...


class SchedulerTransport(Protocol):
    def drain(self) -> list[Command]: ...
    async def wait(self) -> None: ...
    def publish(self, reply_to: str, events: list[TokenEvent]) -> None: ...
    def stage(self, batches: dict[str, list[TokenEvent]]) -> Release:
        """Get an iteration's events (per reply_to) ready; the call returned publishes them."""
        ...

    def report_load(self, load: Callable[[], SchedulerLoad]) -> None: ...


class CommandInbox:
    """The scheduler side's inbox, as every transport keeps it: the commands taken in, and
    an event that wakes the engine loop when there are some."""

    def __init__(self) -> None:
        self._commands: list[Command] = []
        self._wakeup = asyncio.Event()

    def drain(self) -> list[Command]:
        commands, self._commands = self._commands, []
        self._wakeup.clear()
        return commands

    async def wait(self) -> None:
        await self._wakeup.wait()

    def stage(self, batches: dict[str, list[TokenEvent]]) -> Release:
        """Nothing to prepare ahead: the release publishes."""
        return partial(_publish_all, self.publish, batches)  # type: ignore[attr-defined]


def _publish_all(publish: Callable[[str, list[TokenEvent]], None], batches: dict[str, list[TokenEvent]]) -> None:  # fmt: skip
    for reply_to, events in batches.items():
        publish(reply_to, events)


def _release_all(releases: list[Release]) -> None:
    for release in releases:
        release()


class InMemoryTransport(CommandInbox):
    """Both sides in one process and one event loop: a command list and one queue per
    subscriber. Publishing to a subscriber that is gone drops the events."""

    def __init__(self) -> None:
        super().__init__()
        self._subs: dict[str, Subscriber] = {}
        self._load: Callable[[], SchedulerLoad] = lambda: SchedulerLoad(0, 0)

    # ---- gateway side -----------------------------------------------------------------
    def subscribe(self, reply_to: str, subscriber: Subscriber | None = None) -> Subscriber:
        queue = EventQueue() if subscriber is None else subscriber
        self._subs[reply_to] = queue
        return queue

    def unsubscribe(self, reply_to: str) -> None:
        self._subs.pop(reply_to, None)

    def submit(self, seqs: list[SubmitSequence]) -> None:
        self._commands.extend(seqs)
        self._wakeup.set()

    def abort(self, seq_ids: list[str]) -> None:
        self._commands.extend(AbortSequence(s) for s in seq_ids)
        self._wakeup.set()

    def load(self) -> SchedulerLoad:
        queued = sum(isinstance(c, SubmitSequence) for c in self._commands)
        load = self._load()
        return SchedulerLoad(load.num_waiting + queued, load.num_running)

    def close_all(self) -> None:
        """End every subscription (the server is stopping)."""
        for queue in list(self._subs.values()):
            queue.put_nowait(None)

    # ---- scheduler side (drain, wait: CommandInbox) -----------------------------------
    def publish(self, reply_to: str, events: list[TokenEvent]) -> None:
        queue = self._subs.get(reply_to)
        if queue is not None:
            queue.put_nowait(events)

    def stage(self, batches: dict[str, list[TokenEvent]]) -> Release:
        """Each subscriber prepares its events now (a stream formats its chunks); the
        release hands them over, in the order staged."""
        subs = self._subs
        releases = [sub.prepare(events) for reply_to, events in batches.items() if (sub := subs.get(reply_to)) is not None]  # fmt: skip
        return partial(_release_all, releases)

    def report_load(self, load: Callable[[], SchedulerLoad]) -> None:
        self._load = load
