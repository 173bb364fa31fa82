"""The built-in tokenizer: clients that load the exported folder count what the server counts,
and generated text re-tokenizes to exactly the ids it was decoded from."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmemu.service.text.tokenizer import CHAT_TEMPLATE, BuiltinTokenizer, render_chat

TOK = BuiltinTokenizer()


def test_cl100k_counts_words_as_tokens_and_falls_back_to_bytes():
    assert TOK.token_strs(TOK.encode(" the model")) == ["Ġthe", "Ġmodel"]
    assert TOK.encode("Hello") == [9906]  # cl100k_base's (and Llama 3's) id for "Hello"
    assert TOK.count(" the, model.") == 4  # Ġthe , Ġmodel .
    assert TOK.count("2026") == 2  # digits split in threes: 202 6
    assert TOK.decode(TOK.encode("\x00é")) == "\x00é"  # bytes with no merge stay bytes
    assert TOK.count("") == 0


def test_prompts_are_encoded_together_and_token_ids_pass_through():
    # cl100k_base: "hello" 15339, " world" 1917, " the" 279, " cat" 8415
    assert TOK.encode_all(["hello world", [5, 6], " the cat"]) == [[15339, 1917], [5, 6], [279, 8415]]  # fmt: skip
    assert TOK.encode_all([[1]]) == [[1]]


def test_generated_words_are_frequent_english_words():
    assert len(TOK.word_ids) == 8192
    assert [TOK.word_text(i) for i in TOK.word_ids[:3]] == [" the", " and", " for"]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, len(TOK.word_ids) - 1), max_size=200))
def test_generated_words_round_trip_exactly(picks):
    ids = [TOK.word_ids[i] for i in picks]
    text = "".join(TOK.word_text(i) for i in ids)
    assert TOK.decode(ids) == text
    assert TOK.encode(text) == ids


def test_cli_export_writes_a_folder_the_tokenizers_library_loads(cli, tmp_path):
    from tokenizers import Tokenizer

    code, out, _ = cli("tokenizer", "export", str(tmp_path / "tok"))
    assert code == 0, out
    names = sorted(p.name for p in (tmp_path / "tok").iterdir())
    assert names == ["special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]
    config = json.loads((tmp_path / "tok" / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert config["chat_template"] == CHAT_TEMPLATE
    loaded = Tokenizer.from_file(str(tmp_path / "tok" / "tokenizer.json"))
    for text in (" the model", "Héllo, wörld! 123\n\tend", "user: hi\nassistant:"):
        assert loaded.encode(text, add_special_tokens=False).ids == TOK.encode(text)


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=300))
def test_any_text_decodes_back_to_itself(text):
    assert TOK.decode(TOK.encode(text)) == text


@pytest.mark.parametrize(
    "content",
    [
        " the model",
        [{"type": "text", "text": "hi"}, {"type": "image_url"}, {"type": "text", "text": " there"}],
    ],  # fmt: skip
)
def test_chat_template_and_its_python_twin_agree(content):
    jinja2 = pytest.importorskip("jinja2")
    # transformers renders chat templates with trim_blocks and lstrip_blocks on.
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": content}]
    rendered = env.from_string(CHAT_TEMPLATE).render(messages=messages, add_generation_prompt=True)
    assert rendered == render_chat(messages)
    assert rendered.endswith("\nassistant:")


def test_transformers_loads_the_export_offline(tmp_path, monkeypatch):
    import transformers  # the test extra: what guidellm, aiperf and vllm bench load it with

    from llmemu.service.text.tokenizer_files import write_tokenizer_dir

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    write_tokenizer_dir(str(tmp_path))
    auto = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    assert auto(" the model", add_special_tokens=False)["input_ids"] == TOK.encode(" the model")
    # Clients count what they send with add_special_tokens on: nothing is added either way.
    assert auto(" the model")["input_ids"] == TOK.encode(" the model")
    messages = [{"role": "user", "content": [{"type": "text", "text": "hi there"}]}]
    rendered = auto.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert rendered == render_chat(messages) == "user: hi there\nassistant:"


def test_the_bench_words_are_kept_in_the_cache_folder_and_read_back_alike(tmp_path, monkeypatch):
    from llmemu.service.text.tokenizer import vocabulary_words

    monkeypatch.setenv("LLMEMU_CACHE_DIR", str(tmp_path))
    vocabulary_words.cache_clear()
    derived = vocabulary_words()
    assert [p.name.split("-")[0] for p in tmp_path.iterdir()] == ["words"]
    vocabulary_words.cache_clear()
    assert vocabulary_words() == derived == TOK.words()
    vocabulary_words.cache_clear()
