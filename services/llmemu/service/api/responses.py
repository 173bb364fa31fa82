"""Non-streaming answers, built from the pydantic wire types."""

from __future__ import annotations

from typing import Any

from llmemu.protocol.openai import (
    AssistantMessage,
    ChatChoice,
    ChatCompletionResponse,
    CompletionChoice,
    CompletionResponse,
    Usage,
)
from llmemu.service.api.jobs import Job


def usage(job: Job) -> Usage:
    prompt = job.prompt_tokens
    completion = sum(c.generated for c in job.choices)
    return Usage(prompt_tokens=prompt, total_tokens=prompt + completion, completion_tokens=completion)  # fmt: skip


def completion_response(job: Job, texts: list[str], model: str) -> dict[str, Any]:
    choices = [
        CompletionChoice(
            index=c.index, text=t, finish_reason=c.finish_reason, stop_reason=c.stop_reason
        )
        for c, t in zip(job.choices, texts, strict=True)
    ]
    resp = CompletionResponse(id=job.rid, created=job.created, model=model, choices=choices, usage=usage(job))  # fmt: skip
    return resp.model_dump()


def chat_response(job: Job, texts: list[str], model: str) -> dict[str, Any]:
    choices = [
        ChatChoice(
            index=c.index,
            message=AssistantMessage(content=t),
            finish_reason=c.finish_reason,
            stop_reason=c.stop_reason,
        )
        for c, t in zip(job.choices, texts, strict=True)
    ]
    resp = ChatCompletionResponse(id=job.rid, created=job.created, model=model, choices=choices, usage=usage(job))  # fmt: skip
    return resp.model_dump()
