"""--model as users type it: a preset, a Hugging Face id a preset lists, a config.json or a
model folder holding one."""

from __future__ import annotations

import json

import pytest

from llmemu.core import presets
from llmemu.core.errors import ConfigError
from llmemu.core.specs.loading import hf_id_presets, load_model

# Llama 3 8B's config.json fields that shape the model (HF meta-llama/Meta-Llama-3-8B).
LLAMA3_8B_CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
    "intermediate_size": 14336, "num_attention_heads": 32, "num_hidden_layers": 32,
    "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 8192,
    "tie_word_embeddings": False, "torch_dtype": "bfloat16", "hidden_act": "silu",
}  # fmt: skip


@pytest.mark.parametrize(
    ("typed", "preset"),
    [
        ("meta-llama/Meta-Llama-3-8B-Instruct", "llama-3-8b"),
        ("meta-llama/meta-llama-3-8b-instruct", "llama-3-8b"),  # HF ids ignore case
        ("meta-llama/Llama-3.1-70B-Instruct", "llama-3.1-70b"),
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", "mixtral-8x7b"),
        ("llama-2-7b", "llama-2-7b"),
    ],
)
def test_hf_ids_map_to_the_preset_that_lists_them(typed, preset):
    assert load_model(typed) == load_model(preset)


def test_every_listed_id_is_owner_slash_name_and_in_one_preset_only():
    index = hf_id_presets()  # raises if two presets list one id
    assert len(index) >= 13  # the Llama, Mixtral, Qwen, Yi, OPT, CodeLlama, Grok presets
    assert all(hf_id.count("/") == 1 for hf_id in index)
    assert set(index.values()) <= set(presets.names("models"))


def test_an_unknown_name_says_every_accepted_form():
    with pytest.raises(ConfigError, match="unknown model 'org/nothing': give a preset .*Hugging Face id.*config.json"):  # fmt: skip
        load_model("org/nothing")


def test_explain_takes_a_config_json_and_a_model_folder(cli, tmp_path):
    folder = tmp_path / "Meta-Llama-3-8B"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(LLAMA3_8B_CONFIG))
    reports = []
    for ref in (str(folder / "config.json"), str(folder), "llama-3-8b"):
        code, out, err = cli("explain", "--model", ref, "--system", "h100x1", "--decode-requests", "8", "--context", "512", "--json")  # fmt: skip
        assert code == 0, err
        reports.append(json.loads(out))
    assert reports[0]["model"] == reports[1]["model"] == "Meta-Llama-3-8B"  # the folder's name
    # The same shape as the preset prices the same iteration.
    assert reports[0]["iteration_s"] == pytest.approx(reports[2]["iteration_s"], rel=1e-9)


def test_a_folder_without_config_json_is_one_clear_error(cli, tmp_path):
    code, _, err = cli("explain", "--model", str(tmp_path), "--system", "h100x1", "--decode-requests", "1")  # fmt: skip
    assert code == 2
    assert err.strip().endswith("has no config.json; give the model's folder or its config.json")
