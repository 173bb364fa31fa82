"""The built-in tokenizer's ASCII path gives the ids the tokenizers package gives, and text it
cannot split alike goes to the package."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from llmemu.service.text.tokenizer import BuiltinTokenizer

TOK = BuiltinTokenizer()
PARAGRAPHS = json.loads((Path(__file__).parent / "data" / "paragraphs.json").read_text())


def package_ids(text: str) -> list[int]:
    return TOK._tok.encode(text, add_special_tokens=False).ids


def test_paragraphs_take_the_ascii_path_and_count_as_the_package_does():
    plain = [p for p in PARAGRAPHS if p.isascii()]
    assert len(plain) >= 8  # prose, Python, JSON, C, SQL
    for text in plain:
        assert TOK._ascii.encode(text) == package_ids(text)


def test_contractions_digits_and_spaces_split_as_the_pattern_says():
    # "'S" is a contraction piece whatever its case; digits go in threes; a run of spaces
    # before a word leaves its last space to the word: " ", "  ", "Ġx" ... by hand from
    # cl100k.SPLIT_PATTERN.
    for text in ("IT'S 12345 ok", "a   b\n\n  c\r\n", "x = f(y)  # 'd\t\tz", "   "):
        assert TOK._ascii.encode(text) == package_ids(text)
    assert len(TOK._ascii.encode("2026")) == 2  # 202 6


def test_text_outside_the_safe_set_or_holding_an_added_token_is_left_to_the_package():
    for text in ("caf\u00e9", "a\vb", "a\x0cb", "a\x1cb", "end <|endoftext|>"):
        assert TOK._ascii.encode(text) is None
        assert TOK.encode(text) == package_ids(text)
    assert TOK.token_strs(TOK.encode("end <|endoftext|>")) == ["end", "Ġ", "<|endoftext|>"]


PLAIN_CHARS = [chr(c) for c in (9, 10, 13, *range(32, 127))]
WEIGHTED = list("''''sStTdDmMlLvVrReE    \n\n\r")
"""Contractions' letters, spaces and line ends drawn more often than the rest."""
ASCII_TEXT = st.text(alphabet=st.sampled_from(PLAIN_CHARS + WEIGHTED), max_size=80)


@settings(max_examples=400, deadline=None)
@given(ASCII_TEXT)
def test_any_plain_ascii_text_counts_as_the_package_does(text):
    assume("<|endoftext|>" not in text)  # an added token's text is left to the package
    assert "".join(TOK._ascii._pieces(text)) == text  # every character in some piece
    assert TOK._ascii.encode(text) == package_ids(text)
    assert TOK._ascii.count(text) == len(package_ids(text))
    assert TOK._ascii._count_runs(text) == len(package_ids(text))  # whichever count() chose
    assert TOK.encode_all([text, [7, 8]]) == [package_ids(text), [7, 8]]


def test_runs_of_space_led_words_count_one_token_a_vocabulary_word():
    # "user", ":", " the", " cat", "\n", "assistant", ":": seven vocabulary entries.
    assert TOK._ascii._count_runs("user: the cat\nassistant:") == 7
    # Two spaces: " " alone, then " b"; "'s" after "it"; a tab leads "cat"; digits alone.
    assert TOK._ascii._count_runs("a  b") == 3
    assert TOK._ascii._count_runs("it's  the\tcat 123 dogs") == 8
    # A word that is not one token after a space is counted by the BPE, as the package does.
    assert TOK._ascii._count_runs(" the zzqxw") == len(package_ids(" the zzqxw")) == 1 + len(package_ids(" zzqxw"))  # fmt: skip


def test_counts_are_the_lengths_of_the_ids_on_either_path():
    prompts = [PARAGRAPHS[0], "caf\u00e9 au lait", [1, 2, 3]]
    assert TOK.count_all(prompts) == [len(package_ids(PARAGRAPHS[0])), len(package_ids("caf\u00e9 au lait")), 3]  # fmt: skip
    assert TOK.count_all([" the cat"]) == [2]  # " the" 279, " cat" 8415
