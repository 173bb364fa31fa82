"""The OpenAI API as vLLM serves it: pydantic wire types, nothing else.

Requests accept and ignore unknown fields (vLLM's `extra="allow"`); range checks that vLLM
answers with `BadRequestError` live in the gateway so that their messages match vLLM's.
Field names and shapes follow vLLM's vllm/entrypoints/openai/protocol.py.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _unicode(text: str) -> str:
    # JSON's "\ud800" escape parses to a lone surrogate, which no tokenizer or UTF-8 writer
    # takes: refused here, where the error can name the field.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"text is not valid Unicode (a lone surrogate at character {exc.start}); send UTF-8 text"
        ) from None
    return text


Text = Annotated[str, AfterValidator(_unicode)]
"""A string of a request that is tokenised or echoed: valid Unicode only."""


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class StreamOptions(_Open):
    include_usage: bool | None = False
    continuous_usage_stats: bool | None = False
    """vLLM extension: cumulative usage on every chunk."""


class _Sampling(_Open):
    model: Text | None = None
    n: int = 1
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    stop: Text | list[Text] | None = None
    seed: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    ignore_eos: bool = False
    """vLLM extension: generate exactly the token limit."""
    min_tokens: int = 0
    user: Text | None = None


class CompletionRequest(_Sampling):
    prompt: Text | list[int] | list[Text] | list[list[int]]
    """Text, token ids, or a batch of either (one choice per prompt, times n)."""
    echo: bool | None = False
    logprobs: int | None = None
    """Accepted in vLLM's range (0..20) and answered null: log-probabilities are not emulated."""
    best_of: int | None = None
    """Only 1 (vLLM V1 does not support more)."""


class ContentPart(_Open):
    type: Text
    text: Text | None = None


class ChatMessage(_Open):
    role: Text
    content: Text | list[ContentPart] | None = None


class ChatCompletionRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = None
    """Preferred over the deprecated `max_tokens`."""
    logprobs: bool | None = False
    top_logprobs: int | None = None
    """Accepted in vLLM's range (0..20, with logprobs true) and answered null."""
    add_generation_prompt: bool = True


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int
    completion_tokens: int
    prompt_tokens_details: Any | None = None


class CompletionChoice(BaseModel):
    index: int
    text: str
    logprobs: Any | None = None
    finish_reason: str | None = None
    stop_reason: int | str | None = None
    prompt_logprobs: Any | None = None


class CompletionResponse(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage
    system_fingerprint: str | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[Any] = Field(default_factory=list)
    reasoning: str | None = None


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    logprobs: Any | None = None
    finish_reason: str | None = None
    stop_reason: int | str | None = None


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage


class DeltaMessage(BaseModel):
    role: str | None = None
    content: str | None = None


class ChatChunkChoice(BaseModel):
    index: int
    delta: DeltaMessage
    logprobs: Any | None = None
    finish_reason: str | None = None
    stop_reason: int | str | None = None


class ChatCompletionChunk(BaseModel):
    """One SSE event of a chat stream (serialised with exclude_unset, as vLLM does)."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChatChunkChoice]
    usage: Usage | None = None


class CompletionChunkChoice(BaseModel):
    index: int
    text: str
    logprobs: Any | None = None
    finish_reason: str | None = None
    stop_reason: int | str | None = None


class CompletionChunk(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChunkChoice]
    usage: Usage | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "llmemu"
    root: str
    parent: str | None = None
    max_model_len: int


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorInfo(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: int


class ErrorResponse(BaseModel):
    """vLLM >= 0.10.1 envelope: the HTTP status repeated in `code`."""

    error: ErrorInfo


class TokenizeRequest(_Open):
    model: Text | None = None
    prompt: Text | None = None
    messages: list[ChatMessage] | None = None
    add_special_tokens: bool = True


class TokenizeResponse(BaseModel):
    count: int
    max_model_len: int
    tokens: list[int]
    token_strs: list[str] | None = None


class DetokenizeRequest(_Open):
    model: Text | None = None
    tokens: list[int]


class DetokenizeResponse(BaseModel):
    prompt: str
