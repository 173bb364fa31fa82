"""What one request may ask before any of it is tokenised or drawn, each refused with a 400
that names the limit. These bound the work a single small body can cause; vLLM and OpenAI
refuse the same shapes or cannot serve them anyway."""

from __future__ import annotations

from llmemu.service.api.errors import ApiError

MAX_STOP_STRINGS = 64
"""OpenAI takes 4; vLLM no limit, but a client sending more than a few dozen is an attack."""
MAX_STOP_CHARS = 1024
"""A stop string longer than this could not be found in any answer an emulated model writes
in a normal budget; each one is searched in every answer's text."""
MAX_MESSAGES = 2048
"""OpenAI's limit on `messages` ("array too long. Expected an array with maximum length 2048")."""
MAX_CHARS_PER_TOKEN = 16
"""Prompt characters per context token at most: no tokenizer in use averages more than a
few characters per token on text, so a longer prompt cannot fit the context and is refused
before it is tokenised (6 MB took 12 s of CPU)."""


def stop_strings(stop: str | list[str] | None) -> list[str]:
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    if len(stops) > MAX_STOP_STRINGS:
        raise ApiError(400, f"stop has {len(stops)} strings; at most {MAX_STOP_STRINGS} are accepted. Send fewer stop strings.", param="stop")  # fmt: skip
    longest = max((len(s) for s in stops), default=0)
    if longest > MAX_STOP_CHARS:
        raise ApiError(400, f"A stop string has {longest} characters; at most {MAX_STOP_CHARS} are accepted. Shorten it.", param="stop")  # fmt: skip
    return stops


def check_messages(count: int) -> None:
    if count > MAX_MESSAGES:
        raise ApiError(400, f"messages has {count} entries; at most {MAX_MESSAGES} are accepted. Send fewer messages.", param="messages")  # fmt: skip


def check_prompt_chars(text: str, max_model_len: int, param: str = "prompt") -> None:
    limit = max_model_len * MAX_CHARS_PER_TOKEN
    if len(text) > limit:
        raise ApiError(
            400,
            f"The prompt has {len(text)} characters; at most {limit} ({MAX_CHARS_PER_TOKEN} per "
            f"token of this model's {max_model_len}-token context) can fit. Please reduce the "
            "length of the input prompt.",
            param=param,
        )
