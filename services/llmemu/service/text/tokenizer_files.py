"""The tokenizer folder that `llmemu tokenizer export DIR` writes: what
`transformers.AutoTokenizer.from_pretrained(DIR)` needs to load the built-in tokenizer offline
(no config.json: clients only need the tokenizer)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmemu.service.text.tokenizer import CHAT_TEMPLATE, EOS_TOKEN, MODEL_MAX_LENGTH, tokenizer_json


def tokenizer_config(model_max_length: int = MODEL_MAX_LENGTH) -> dict[str, Any]:
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": EOS_TOKEN,
        "eos_token": EOS_TOKEN,
        "unk_token": EOS_TOKEN,
        "model_max_length": model_max_length,
        "clean_up_tokenization_spaces": False,
        "chat_template": CHAT_TEMPLATE,
        "added_tokens_decoder": {
            "0": {
                "content": EOS_TOKEN,
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": True,
            }
        },
    }


def special_tokens_map() -> dict[str, str]:
    return {"bos_token": EOS_TOKEN, "eos_token": EOS_TOKEN, "unk_token": EOS_TOKEN}


def write_tokenizer_dir(path: str, model_max_length: int = MODEL_MAX_LENGTH) -> list[str]:
    """Write a folder that `AutoTokenizer.from_pretrained(path)` loads offline."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "tokenizer.json": tokenizer_json(),
        "tokenizer_config.json": tokenizer_config(model_max_length),
        "special_tokens_map.json": special_tokens_map(),
    }
    for name, doc in files.items():
        (out / name).write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
    return sorted(files)
