"""Encoding plain ASCII prompts without the tokenizers package's pre-tokenizer.

The built-in tokenizer splits text with Llama 3's pattern (`cl100k.SPLIT_PATTERN`), then
encodes each piece by byte-level BPE. In the tokenizers package the split is most of the
cost: 1.8 of 2.1 ms for a 512-token prompt on an idle 2-core host, on the event loop, once
per request (a sixth of the server's CPU at 256 streams). For text made only of printable
ASCII, tab, newline and carriage return, the pattern's Unicode classes are plain ASCII sets
(\\p{L} is [A-Za-z], \\p{N} is [0-9], \\s is [\\t\\n\\v\\f\\r ]), so the stdlib's backtracking
engine, which like Oniguruma takes the first alternative that matches, splits it alike.
Each piece is then encoded once by the package's own BPE model and remembered: a prompt
is a regex pass and one dictionary lookup per piece. Other text, and text holding an added
token's content (matched before splitting), goes through the package as before;
tests/service/test_ascii_split.py checks both paths give the same ids.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import chain

from llmemu.service.text.byte_level import byte_alphabet

_L, _N, _S = "A-Za-z", "0-9", r"\t\n\v\f\r "
ASCII_SPLIT = re.compile(
    rf"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n{_L}{_N}]?[{_L}]+|[{_N}]{{1,3}}| ?[^{_S}{_L}{_N}]+[\r\n]*"
    rf"|[{_S}]*[\r\n]+|[{_S}]+(?![^{_S}])|[{_S}]+"
)
"""cl100k.SPLIT_PATTERN with its classes written for ASCII text."""
PLAIN = re.compile(r"[\t\n\r\x20-\x7e]*")
"""Text the ASCII pattern splits as the Unicode one does (no \\v, \\f or \\x1c-\\x1f, which
Python's \\s and Unicode's White_Space do not agree on)."""
WORD_RUN = re.compile(r"(?: [A-Za-z]+)+")
"""A run of words each led by one space: ASCII_SPLIT makes each such word one piece (its
second alternative, the space as the optional first character), and a piece ends right
before the run (no alternative takes a space followed by a letter into a longer match;
whitespace runs leave their last space to the word). So a run's pieces are its words, split
by `str.split` in C instead of one regex match each."""
LETTERS_AND_SPACE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz "
SPACES_PER_OTHER = 16
"""Text takes the word runs when it has at least this many spaces per character that is
neither a letter nor a space (lists of words, what load generators send). In prose and
code a run ends every few words, and a call per run cost up to twice the regex over the
whole."""
MAX_LEARNED = 200_000
"""Pieces learned at most (a few tens of MB) beyond the vocabulary's own; then forgotten."""


class AsciiEncoder:
    """Encodes a plain ASCII text as the tokenizers package does, or answers None."""

    def __init__(self, tokenize: Callable[[str], list[int]], added: list[str], vocab: dict[str, int]) -> None:  # fmt: skip
        self._tokenize = tokenize
        """The BPE model on one piece written in the byte-level alphabet."""
        self._added = added
        self._to_alphabet = dict(enumerate(byte_alphabet()))
        # A piece that is a whole vocabulary entry is that one token (the model's
        # ignore_merges), so every plain ASCII entry is known from the start: a prompt's
        # words are not learned one by one on the event loop by its first requests.
        # Bytes as the code points of the same number: ASCII text is then itself, and any
        # other byte (or a character outside the alphabet: U+0100 and up) is not ASCII.
        from_alphabet = str.maketrans({c: b for b, c in enumerate(byte_alphabet()) if c != chr(b)})  # fmt: skip
        self._vocab_ids: dict[str, list[int]] = {}
        # In id order, the BPE's order of frequency: the frequent words' keys and entries
        # are then made one after another and sit together in memory. In the vocabulary's
        # own order a 512-word prompt's lookups took 0.3 ms of the event loop, not 0.17,
        # most of it waiting for memory.
        for token, token_id in sorted(vocab.items(), key=lambda item: item[1]):
            text = token.translate(from_alphabet)
            if text.isascii() and PLAIN.fullmatch(text):
                self._vocab_ids[text] = [token_id]
        self._ids: dict[str, list[int]] = dict(self._vocab_ids)
        self._counts: dict[str, int] = dict.fromkeys(self._vocab_ids, 1)
        """Tokens per piece: a count is a sum, without building the list of ids."""
        self._word_counts = {t[1:]: 1 for t in self._vocab_ids if t[:1] == " " and t[1:].isalpha()}  # fmt: skip
        """Tokens of " " + word, keyed by the word: the vocabulary's space-led words."""

    def count(self, text: str) -> int | None:
        if not self._plain(text):
            return None
        # Plain text is ASCII: its bytes are its characters, and bytes.translate is a C loop.
        others = len(text.encode("ascii").translate(None, LETTERS_AND_SPACE))
        if others * SPACES_PER_OTHER > text.count(" "):
            return self._count_pieces(ASCII_SPLIT.findall(text))
        return self._count_runs(text)

    def _count_runs(self, text: str) -> int:
        """count() of plain text, by its runs of space-led words."""
        total = start = 0
        for run in WORD_RUN.finditer(text):
            begin, end = run.span()
            if begin > start:  # ASCII_SPLIT looks ahead at most one character: a space
                total += self._count_pieces(ASCII_SPLIT.findall(text, start, begin))
            total += self._count_words(text[begin + 1 : end].split(" "))
            start = end
        if start < len(text):
            total += self._count_pieces(ASCII_SPLIT.findall(text, start))
        return total

    def _count_pieces(self, pieces: list[str]) -> int:
        try:
            return sum(map(self._counts.__getitem__, pieces))
        except KeyError:  # a piece not seen yet
            return sum(len(self._ids.get(p) or self._learn(p)) for p in pieces)

    def _count_words(self, words: list[str]) -> int:
        """Tokens of " " + each word."""
        try:
            return sum(map(self._word_counts.__getitem__, words))
        except KeyError:  # a word that is not one token after a space
            return self._count_pieces([" " + w for w in words])

    def encode(self, text: str) -> list[int] | None:
        pieces = self._pieces(text)
        if pieces is None:
            return None
        try:
            return list(chain.from_iterable(map(self._ids.__getitem__, pieces)))
        except KeyError:  # a piece not seen yet: learn every new one, then look up again
            for piece in set(pieces).difference(self._ids):
                self._learn(piece)
            return list(chain.from_iterable(self._ids.get(p) or self._learn(p) for p in pieces))

    def _plain(self, text: str) -> bool:
        """Text this encoder takes: PLAIN, and no added token's text in it."""
        return PLAIN.fullmatch(text) is not None and not any(a in text for a in self._added)

    def _pieces(self, text: str) -> list[str] | None:
        if not self._plain(text):
            return None
        # No character of PLAIN text is skipped: a letter, a digit, a space and any other
        # printable character each begin a match of some alternative, none of which is empty.
        return ASCII_SPLIT.findall(text)

    def _learn(self, piece: str) -> list[int]:
        if len(self._ids) >= len(self._vocab_ids) + MAX_LEARNED:
            self._ids = dict(self._vocab_ids)
            self._counts = dict.fromkeys(self._vocab_ids, 1)
        ids = self._ids[piece] = self._tokenize(piece.translate(self._to_alphabet))
        self._counts[piece] = len(ids)
        return ids
