"""The server's tokenizer: OpenAI's cl100k_base BPE by default, or a local Hugging Face one.

The default counts like a real model's tokenizer (cl100k_base is the first 100k tokens of
Llama 3's vocabulary; cl100k.py), so replayed prompts cost what they would. `--tokenizer
PATH` loads a `tokenizer.json` (or a model folder holding one) so counts are exact for a
user who has their model's file.

Generated answers are words drawn from the vocabulary: tokens that are a space and a few
lower-case letters and that a tokenizer reads back as that one token after another word.
So the text of generated ids re-tokenizes to the same ids, and a client counting the output
gets `completion_tokens` exactly. One JSON document is both what the server runs (through
the `tokenizers` package, which Hugging Face clients run) and what `llmemu tokenizer export`
writes, so server and clients count with one implementation, not two that should agree.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from llmemu.core.errors import ConfigError
from llmemu.service.cache_dir import read_cached, write_cached
from llmemu.service.text.ascii_split import AsciiEncoder
from llmemu.service.text.cl100k import EOS_ID, EOS_TOKEN, SHA256, SPLIT_PATTERN, bpe_model

MODEL_MAX_LENGTH = 131072
ASCII_PATH_CHARS = 16 << 10
"""Prompts up to this many characters in all may take the ASCII path (which holds the GIL);
longer ones go to `encode_batch`, which releases it."""
MAX_WORDS = 8192
"""Generated answers draw from the most frequent this many one-token words."""
WORD = re.compile(r"[^a-z]([a-z]{3,12})")
"""A vocabulary entry that may be a word after a space: one marker character, then letters."""
CONVERSION = "v1"
"""Part of the cached file's name: bump it when _builtin_document changes."""
# The newline is an expression: transformers renders with trim_blocks, which would eat a
# literal newline after a block tag.
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}: "
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}{% if part['type'] == 'text' %}"
    "{{ part['text'] }}{% endif %}{% endfor %}{% endif %}{{ '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


def _byte_level(**extra: Any) -> dict[str, Any]:
    return {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, **extra}


@cache
def builtin_tokenizer_text() -> str:
    """The built-in tokenizer.json (cl100k_base, split as Llama 3's tokenizer.json does),
    converted once and then read from the cache folder."""
    name = f"tokenizer-cl100k_base-{SHA256[:12]}-{CONVERSION}.json"
    text = read_cached(name)
    if text is None:
        text = _builtin_document()
        write_cached(name, text)
    return text


def _builtin_document() -> str:
    special = {"single_word": False, "lstrip": False, "rstrip": False, "normalized": False}
    split = {"type": "Split", "pattern": {"Regex": SPLIT_PATTERN}, "behavior": "Isolated", "invert": False}  # fmt: skip
    doc = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": EOS_ID, "content": EOS_TOKEN, **special, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [split, _byte_level(use_regex=False)],
        },  # fmt: skip
        "post_processor": None,
        "decoder": _byte_level(use_regex=True),
        "model": bpe_model(),
    }
    return json.dumps(doc, ensure_ascii=False)


def tokenizer_json() -> dict[str, Any]:
    return json.loads(builtin_tokenizer_text())


def render_chat(messages: list[dict[str, Any]], add_generation_prompt: bool = True) -> str:
    """CHAT_TEMPLATE in Python (a test renders both and compares)."""
    parts = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(
                p.get("text", "")
                for p in content
                if isinstance(p, dict) and p.get("type") == "text"
            )
        parts.append(f"{message['role']}: {'' if content is None else content}\n")
    if add_generation_prompt:
        parts.append("assistant:")
    return "".join(parts)


class ServedTokenizer:
    """Counting, encoding and decoding with one tokenizer.json document."""

    def __init__(self, document: str, source: str) -> None:
        from tokenizers import Tokenizer  # the serve extra; imported where it is used

        self.document = document
        self.source = source
        """What it is, for logs and `/version`: "cl100k_base (built in)" or the file's path."""
        self._tok = Tokenizer.from_str(document)
        self.vocab_size = self._tok.get_vocab_size()
        self.word_ids, words = _one_token_words(self._tok)
        self._word_text = dict(zip(self.word_ids, words, strict=True))
        self._ascii: AsciiEncoder | None = None
        """The ASCII path, for a document split by cl100k.SPLIT_PATTERN (the built-in)."""

    def use_ascii_path(self) -> None:
        model, added = self._tok.model, self._tok.get_added_tokens_decoder().values()
        self._ascii = AsciiEncoder(lambda s: [t.id for t in model.tokenize(s)], [t.content for t in added], self._tok.get_vocab(with_added_tokens=False))  # fmt: skip

    def encode(self, text: str) -> list[int]:
        return self.encode_all([text])[0]

    def encode_all(self, prompts: list[str | list[int]]) -> list[list[int]]:
        """Each text's ids (token-id prompts pass through). Plain ASCII prompts of the
        built-in tokenizer take the ASCII path (ascii_split.py: a tenth of the time);
        others go through `encode_batch`, which releases the GIL while it works (`encode`
        holds it: a 512-token prompt took 5 ms of the event loop's time on a busy 2-core
        host), so a worker thread that tokenises a large body leaves the streams running."""
        texts = [p for p in prompts if isinstance(p, str)]
        fast = self._ascii
        if fast is not None and sum(map(len, texts)) <= ASCII_PATH_CHARS:
            done = [fast.encode(p) if isinstance(p, str) else p for p in prompts]
            if None not in done:
                return done  # type: ignore[return-value]
        encoded = iter(self._tok.encode_batch(texts, add_special_tokens=False) if texts else ())
        return [next(encoded).ids if isinstance(p, str) else p for p in prompts]

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def count_all(self, prompts: list[str | list[int]]) -> list[int]:
        """Each prompt's token count (what a request needs unless a prefix cache keys on
        the ids); on the ASCII path without building the lists of ids."""
        fast = self._ascii
        if fast is not None and sum(len(p) for p in prompts if isinstance(p, str)) <= ASCII_PATH_CHARS:  # fmt: skip
            counts = [fast.count(p) if isinstance(p, str) else len(p) for p in prompts]
            if None not in counts:
                return counts  # type: ignore[return-value]
        return [len(i) for i in self.encode_all(prompts)]

    def decode(self, ids: list[int]) -> str:
        return self._tok.decode(ids, skip_special_tokens=False)

    def token_strs(self, ids: list[int]) -> list[str]:
        return [self._tok.id_to_token(i) or "" for i in ids]

    def word_text(self, token_id: int) -> str:
        """Text of one generated token (a vocabulary word with its leading space)."""
        return self._word_text[token_id]

    def words(self) -> list[str]:
        """The generated-answer words without their space (prompt text for `llmemu bench`)."""
        return [self._word_text[i][1:] for i in self.word_ids]


def _one_token_words(tok) -> tuple[list[int], list[str]]:
    """Ids that are " " + lower-case letters and encode back to themselves after another word
    ("a" + text), most frequent (lowest id) first."""
    found = sorted(
        (token_id, " " + m.group(1))
        for token, token_id in tok.get_vocab().items()
        if (m := WORD.fullmatch(token))
    )
    lead = tok.encode("a", add_special_tokens=False).ids
    kept: list[tuple[int, str]] = []
    for start in range(0, len(found), MAX_WORDS):  # most pass: check one slice at a time
        batch = found[start : start + MAX_WORDS]
        checks = tok.encode_batch(["a" + text for _, text in batch], add_special_tokens=False)
        kept += [(i, t) for (i, t), enc in zip(batch, checks, strict=True) if enc.ids == [*lead, i]]  # fmt: skip
        if len(kept) >= MAX_WORDS:
            break
    if not kept:
        raise ConfigError("tokenizer: no vocabulary word is one token after a space; use a BPE tokenizer.json")  # fmt: skip
    kept = kept[:MAX_WORDS]
    return [i for i, _ in kept], [t for _, t in kept]


@cache
def _builtin() -> ServedTokenizer:
    tok = ServedTokenizer(builtin_tokenizer_text(), "cl100k_base (built in)")
    tok.use_ascii_path()
    return tok


class BuiltinTokenizer(ServedTokenizer):
    """The default tokenizer; built once per process (conversion takes about a second)."""

    def __init__(self) -> None:
        self.__dict__.update(_builtin().__dict__)


@cache
def vocabulary_words() -> list[str]:
    """The built-in tokenizer's generated-answer words (the prompt text of `llmemu bench`),
    kept in the cache folder beside the converted tokenizer: deriving them builds the
    tokenizer and checks 8,192 words, over a second of a client's start-up."""
    name = f"words-cl100k_base-{SHA256[:12]}-{CONVERSION}-{MAX_WORDS}.json"
    text = read_cached(name)
    if text is not None:
        return json.loads(text)
    words = _builtin().words()
    write_cached(name, json.dumps(words))
    return words


def load_tokenizer(path: str | None) -> ServedTokenizer:
    """The built-in tokenizer, or the tokenizer.json at PATH (a file or a folder holding one)."""
    if path is None:
        return BuiltinTokenizer()
    file = Path(path)
    if file.is_dir():
        file = file / "tokenizer.json"
    if not file.is_file():
        raise ConfigError(f"--tokenizer: {path} is neither a tokenizer.json nor a folder holding one; give the file or its folder")  # fmt: skip
    try:
        return ServedTokenizer(file.read_text(), str(file))
    except Exception as exc:  # the tokenizers library's parse errors have no common type
        raise ConfigError(f"--tokenizer: {file} is not a Hugging Face tokenizer.json ({exc})") from exc  # fmt: skip
