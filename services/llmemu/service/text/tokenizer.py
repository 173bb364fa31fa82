"""The built-in tokenizer: a byte-level BPE whose vocabulary is generated in code.

Any text tokenizes (unknown words fall back to bytes), and every vocabulary word written
with its leading space (" lamo") is exactly one token, built by merges that only ever
extend a space-led prefix. So the text of generated ids (whole words) re-tokenizes to the
same ids: a client counting the output gets `completion_tokens` exactly.

The same JSON is served at run time (through the `tokenizers` package, which is what Hugging
Face clients run) and written by `llmemu tokenizer export DIR`, so server and clients count
with one implementation, not two that should agree.
"""

from __future__ import annotations

import json
from functools import cache
from itertools import product
from typing import Any

EOS_TOKEN = "<|endoftext|>"
MODEL_MAX_LENGTH = 131072
# Plain-English words first so that ordinary prompts compress like text, then every pair
# of 70 consonant-vowel syllables ("baba", "babe", ...), about 5000 words.
# A word list reads better as text than as one quoted word per line.
COMMON_WORDS = (  # noqa: SIM905
    "the of and to in is that for it as was with be by on not he this are or his from at "
    "which but have an they you were her she there been one all we their has would when "
    "if so no will more can out up who said what some into them only time about than "
    "other could two new model token request server latency throughput queue cache batch "
    "prompt output input stream memory device compute bandwidth layer attention expert "
    "router decode prefill tensor parallel kernel cluster edge node link network data "
    "system"
).split()
# The newline is an expression: transformers renders with trim_blocks, which would eat a
# literal newline after a block tag.
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}: "
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}{% if part['type'] == 'text' %}"
    "{{ part['text'] }}{% endif %}{% endfor %}{% endif %}{{ '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


@cache
def _byte_alphabet() -> list[str]:
    """GPT-2's byte-to-printable-character map, in byte order (what ByteLevel uses)."""
    keep = {*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)}
    chars, extra = [], 0
    for b in range(256):
        if b in keep:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


SPACE = _byte_alphabet()[ord(" ")]
"""How ByteLevel writes a space: "Ġ"."""


def vocabulary_words() -> list[str]:
    words = list(dict.fromkeys(COMMON_WORDS))
    syllables = ["".join(p) for p in product("bdfgklmnprstvz", "aeiou")]
    words.extend(a + b for a, b in product(syllables, syllables))
    return list(dict.fromkeys(words))


def tokenizer_json() -> dict[str, Any]:
    """The Hugging Face tokenizer.json document (BPE model built directly, no training)."""
    vocab: dict[str, int] = {EOS_TOKEN: 0}
    for ch in _byte_alphabet():
        vocab[ch] = len(vocab)
    merges: list[list[str]] = []
    space = SPACE
    for word in vocabulary_words():
        prefix = space
        for ch in word:
            piece = prefix + ch
            if piece not in vocab:
                vocab[piece] = len(vocab)
                merges.append([prefix, ch])
            prefix = piece
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": 0,
                "content": EOS_TOKEN,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
        ],
        "normalizer": None,
        "pre_tokenizer": {
            "type": "ByteLevel",
            "add_prefix_space": False,
            "trim_offsets": True,
            "use_regex": True,
        },
        "post_processor": None,
        "decoder": {
            "type": "ByteLevel",
            "add_prefix_space": False,
            "trim_offsets": True,
            "use_regex": True,
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": merges,
        },
    }


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


class BuiltinTokenizer:
    """Counting, encoding and decoding with the exported tokenizer.json."""

    def __init__(self) -> None:
        from tokenizers import Tokenizer  # the serve extra; imported where it is used

        self._tok = Tokenizer.from_str(json.dumps(tokenizer_json()))
        self.vocab_size = self._tok.get_vocab_size()
        words = vocabulary_words()
        self.word_ids: list[int] = [self._tok.token_to_id(SPACE + w) for w in words]
        self._word_text = {i: " " + w for i, w in zip(self.word_ids, words, strict=True)}

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def decode(self, ids: list[int]) -> str:
        return self._tok.decode(ids, skip_special_tokens=False)

    def token_strs(self, ids: list[int]) -> list[str]:
        return [self._tok.id_to_token(i) or "" for i in ids]

    def word_text(self, token_id: int) -> str:
        """Text of one generated token (a vocabulary word with its leading space)."""
        return self._word_text[token_id]
