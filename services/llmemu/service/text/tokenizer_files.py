"""The tokenizer folder that `llmemu tokenizer export DIR` writes: what
`transformers.AutoTokenizer.from_pretrained(DIR)` needs to load the server's tokenizer offline
(no config.json: clients only need the tokenizer)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from llmemu.service.text.cl100k import EOS_ID, EOS_TOKEN
from llmemu.service.text.tokenizer import CHAT_TEMPLATE, MODEL_MAX_LENGTH, load_tokenizer

SIDE_FILES = ("tokenizer_config.json", "special_tokens_map.json")
"""What a model folder holds beside tokenizer.json that clients read (chat template, EOS)."""


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
            str(EOS_ID): {
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


def write_tokenizer_dir(
    path: str, model_max_length: int = MODEL_MAX_LENGTH, tokenizer: str | None = None
) -> list[str]:
    """Write a folder that `AutoTokenizer.from_pretrained(path)` loads offline: the built-in
    tokenizer, or the one `--tokenizer` names with the side files found beside it."""
    tok = load_tokenizer(tokenizer)
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tokenizer.json").write_text(tok.document)
    written = ["tokenizer.json"]
    beside = Path(tok.source).parent if tokenizer is not None else None
    if beside is not None and (beside / "tokenizer_config.json").is_file():
        for name in SIDE_FILES:
            if (beside / name).is_file() and (beside / name).resolve() != (out / name).resolve():
                shutil.copyfile(beside / name, out / name)
                written.append(name)
    else:
        docs = {"tokenizer_config.json": tokenizer_config(model_max_length), "special_tokens_map.json": special_tokens_map()}  # fmt: skip
        for name, doc in docs.items():
            (out / name).write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
            written.append(name)
    return sorted(written)
