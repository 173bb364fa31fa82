"""From an OpenAI request to sequences for the scheduler: count prompt tokens, check limits
with vLLM's messages, pick each choice's length and words. Pure apart from the sampler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from llmemu.protocol.openai import ChatCompletionRequest, CompletionRequest
from llmemu.service.api.errors import ApiError
from llmemu.service.api.limits import check_messages, check_prompt_chars, stop_strings
from llmemu.service.text.lengths import Draw, OutputSampler
from llmemu.service.text.stops import apply_stop
from llmemu.service.text.tokenizer import render_chat

MAX_SEQUENCES = 256
"""Prompts x n of one request at most: an emulator must not be told to hold a million."""
COMPLETIONS_DEFAULT_MAX_TOKENS = 16  # vLLM's (and OpenAI's) default for /v1/completions
MAX_LOGPROBS = 20  # vLLM's default --max-logprobs


@dataclass(slots=True)
class Choice:
    index: int
    seq_id: str
    prompt_tokens: int
    draw: Draw
    generated: int = 0
    finish_reason: str | None = None
    error: str | None = None
    prompt_ids: tuple[int, ...] = ()
    """The prompt's token ids, kept only where a replica caches prefixes."""

    def text(self, before: int, after: int, word_text: Callable[[int], str]) -> str:
        """Text of tokens [before, after)."""
        if self.draw.pieces is not None:
            return "".join(self.draw.pieces[before:after])
        ids = self.draw.token_ids
        if after == before + 1:  # one token per iteration: the usual case, kept cheap
            return word_text(ids[before])
        return "".join(word_text(i) for i in ids[before:after])

    @property
    def stop_reason(self) -> str | None:
        return self.draw.stop_reason if self.finish_reason == "stop" else None


@dataclass(slots=True)
class Job:
    rid: str
    chat: bool
    created: int
    choices: list[Choice] = field(default_factory=list)
    params_max_tokens: int | None = None
    n: int = 1
    closed: bool = False
    """The gateway has unsubscribed and aborted what was unfinished."""

    @property
    def prompt_tokens(self) -> int:
        # Usage counts each prompt once however many choices share it (vLLM's accounting).
        return sum(c.prompt_tokens for c in self.choices[:: max(1, self.n)])


def check_sampling(req: CompletionRequest | ChatCompletionRequest) -> None:
    if req.n < 1:
        raise ApiError(400, f"n must be at least 1, got {req.n}.", param="n")
    if req.temperature is not None and not 0 <= req.temperature <= 2:
        raise ApiError(400, f"temperature must be in [0, 2], got {req.temperature}.", param="temperature")  # fmt: skip
    if req.top_p is not None and not 0 < req.top_p <= 1:
        raise ApiError(400, f"top_p must be in (0, 1], got {req.top_p}.", param="top_p")
    if req.n > 1 and req.temperature == 0:
        raise ApiError(400, f"n must be 1 when using greedy sampling, got {req.n}.", param="n")
    if req.min_tokens < 0:
        raise ApiError(400, f"min_tokens must be greater than or equal to 0, got {req.min_tokens}.", param="min_tokens")  # fmt: skip
    stop_strings(req.stop)
    if isinstance(req, ChatCompletionRequest):
        _check_logprobs(req.top_logprobs, "top_logprobs")
        if req.top_logprobs and not req.logprobs:
            raise ApiError(400, "when using `top_logprobs`, `logprobs` must be set to true.", param="top_logprobs")  # fmt: skip
        return
    _check_logprobs(req.logprobs, "logprobs")
    if req.best_of is not None and req.best_of != 1:
        raise ApiError(400, f"best_of={req.best_of} is not supported (vLLM V1 has no best_of); leave it out or send 1.", param="best_of")  # fmt: skip


def _check_logprobs(value: int | None, param: str) -> None:
    """Log-probabilities are answered null (not emulated), but only for what vLLM accepts."""
    if value is None:
        return
    if value < -1:
        raise ApiError(400, f"`{param}` must be a positive value or -1.", param=param)
    if value == -1 or value > MAX_LOGPROBS:
        asked = "the whole vocabulary" if value == -1 else value
        raise ApiError(400, f"Requested sample logprobs of {asked}, which is greater than max allowed: {MAX_LOGPROBS}", param=param)  # fmt: skip


def completion_prompts(req: CompletionRequest, max_model_len: int, vocab_size: int) -> list[str | list[int]]:  # fmt: skip
    """Each prompt as given, checked: a text (its length) or token ids (in the vocabulary)."""
    prompt = req.prompt
    if isinstance(prompt, str):
        prompts: list = [prompt]
    elif prompt and isinstance(prompt[0], int):
        prompts = [prompt]
    else:
        prompts = list(prompt)
    if not prompts:
        raise ApiError(400, "The prompt list is empty; give at least one prompt.", param="prompt")
    for p in prompts:
        if isinstance(p, str):
            check_prompt_chars(p, max_model_len)
            continue
        bad = next((t for t in p if not 0 <= t < vocab_size), None)
        if bad is not None:
            raise ApiError(400, f"Token id {bad} is out of vocabulary (size {vocab_size}).", param="prompt")  # fmt: skip
    return prompts


def chat_prompt(req: ChatCompletionRequest, max_model_len: int) -> str:
    """The conversation rendered as the model reads it, its length checked."""
    check_messages(len(req.messages))
    messages = [m.model_dump(exclude_none=True) for m in req.messages]
    text = render_chat(messages, req.add_generation_prompt)
    check_prompt_chars(text, max_model_len, "messages")
    return text


def resolve_max_tokens(
    requested: int | None, prompt_tokens: int, max_model_len: int, overflow: str
) -> int:
    """The token limit of one sequence, or the 400 vLLM gives (messages from vLLM 0.33)."""
    if prompt_tokens == 0:
        raise ApiError(400, "The decoder prompt cannot be empty", param="prompt")
    if prompt_tokens >= max_model_len:
        raise ApiError(
            400,
            f"This model's maximum context length is {max_model_len} tokens. However, your "
            f"prompt contains {prompt_tokens} input tokens, which exceeds this limit even "
            "without any output tokens. Please reduce the length of the input prompt.",
            param="input_tokens",
        )
    room = max_model_len - prompt_tokens
    if requested is None:
        return room
    if requested < 1:
        raise ApiError(400, f"max_tokens must be at least 1, got {requested}.", param="max_tokens")
    if requested > max_model_len:
        raise ApiError(
            400,
            f"max_tokens={requested} cannot be greater than max_model_len={max_model_len}. "
            "Please request fewer output tokens.",
            param="max_tokens",
        )
    if requested > room and overflow == "error":
        raise ApiError(
            400,
            f"This model's maximum context length is {max_model_len} tokens. However, you "
            f"requested {prompt_tokens + requested} tokens ({prompt_tokens} in the messages, "
            f"{requested} in the completion). Please reduce the length of the messages or "
            "completion.",
            param="max_tokens",
        )
    return min(requested, room)


def build_job(
    job: Job,
    req: CompletionRequest | ChatCompletionRequest,
    counts: list[int],
    requested: int | None,
    *,
    ids: list[tuple[int, ...]] | None = None,
    max_model_len: int,
    overflow: str,
    sampler: OutputSampler,
    word_text: Callable[[int], str],
) -> Job:
    if len(counts) * req.n > MAX_SEQUENCES:
        raise ApiError(400, f"{len(counts)} prompts x n={req.n} is over {MAX_SEQUENCES} sequences per request; split the request.", param="n")  # fmt: skip
    job.params_max_tokens, job.n = requested, req.n
    stops = stop_strings(req.stop)
    for p, count in enumerate(counts):
        limit = resolve_max_tokens(requested, count, max_model_len, overflow)
        if req.min_tokens > limit:
            raise ApiError(400, f"min_tokens must be less than or equal to max_tokens={limit}, got {req.min_tokens}.", param="min_tokens")  # fmt: skip
        for k in range(req.n):
            index = p * req.n + k
            seed = None if req.seed is None else req.seed + index
            draw = sampler.draw(limit, ignore_eos=req.ignore_eos, min_tokens=req.min_tokens, seed=seed)  # fmt: skip
            if stops and not req.ignore_eos:
                draw = apply_stop(draw, stops, word_text)
            choice = Choice(index, f"{job.rid}-{index}", count, draw)
            if ids is not None:
                choice.prompt_ids = ids[p]
            job.choices.append(choice)
    return job
