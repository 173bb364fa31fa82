"""A request's CPU work runs in worker threads, never on the event loop.

The event loop paces every stream's tokens and answers /health; anything that grows with the
body holds all of them while it runs. Measured on the loop: parsing and validating an 8 MiB
body took 0.5-4 s, tokenising a 6 MB prompt 12 s, stop matching 10,000 stop strings 13 s.
So the body is read on the loop (it arrives there) and parsed, checked, tokenised, drawn and
rendered here. The tokenizer releases the GIL while it encodes (ServedTokenizer.encode_all);
pure-Python work hands the GIL back to the loop every switch interval (5 ms), so the loop
stays responsive either way.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

Body = TypeVar("Body", bound=BaseModel)
T = TypeVar("T")


def machine_workers() -> int:
    """One worker per CPU this process may run on (tokenising releases the GIL)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


INLINE_BODY_BYTES = 16 << 10
"""A body this small is parsed, checked, tokenised and drawn on the loop itself. Its work is bounded by the request limits (64 stop
strings, a few thousand characters: well under a millisecond), while a hop to a
worker thread waits for the GIL the busy loop holds, up to a 5 ms switch interval each
way: on a quiet host that hop alone put live TTFT p50 at 23-38 ms where the emulated one is
13 ms (tests/service/test_live_vs_offline.py)."""


class OffLoop:
    def __init__(self, workers: int | None = None) -> None:
        self.pool = ThreadPoolExecutor(workers or machine_workers(), "llmemu-request")

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, partial(fn, *args, **kwargs))

    async def run_on(self, raw: bytes, fn: Callable[[bytes], T]) -> T:
        """`fn(raw)`: on the loop for a small body, in a worker thread for a large one."""
        return await self.run_for(len(raw), fn, raw)

    async def run_for(self, body_bytes: int, fn: Callable[..., T], /, *args: Any) -> T:
        """`fn(*args)`, work that grows with a body of `body_bytes`: on the loop for a
        small body, in a worker thread for a large one."""
        if body_bytes <= INLINE_BODY_BYTES:
            return fn(*args)
        return await self.run(fn, *args)

    async def body(self, request: Request, model: type[Body]) -> Body:
        """The request's JSON body as `model`; errors as FastAPI words them (a 400)."""
        raw = await request.body()
        return await self.run_on(raw, partial(parse_body, model=model))

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def parse_body(raw: bytes, model: type[Body]) -> Body:
    if len(raw) <= INLINE_BODY_BYTES:
        # pydantic's own parser, without the dict in between: half the time of json.loads
        # and model_validate. It accepts what json.loads accepts and takes it alike, so
        # where it succeeds the model is the same (test_parse_body.py); where it fails the
        # body is parsed again below, so that errors are worded as FastAPI words them.
        # Only small bodies: a large invalid one would be parsed twice.
        try:
            return model.model_validate_json(raw)
        except ValidationError:
            pass
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _invalid("json_invalid", ("body", exc.pos), "JSON decode error") from None
    except UnicodeDecodeError:
        raise _invalid("json_invalid", ("body",), "the body is not UTF-8 text") from None
    except RecursionError:
        raise _invalid("json_invalid", ("body",), "JSON nested too deeply") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        raise RequestValidationError([{**e, "loc": _loc(e["loc"])} for e in errors]) from None


def _loc(loc: tuple) -> tuple:
    """FastAPI's location of a body error, without pydantic's validator-function steps."""
    return ("body", *(p for p in loc if not str(p).startswith("function-")))


def _invalid(kind: str, loc: tuple, msg: str) -> RequestValidationError:
    return RequestValidationError([{"type": kind, "loc": loc, "msg": msg}])
