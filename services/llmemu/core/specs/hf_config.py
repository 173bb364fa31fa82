"""Build a ModelSpec from a Hugging Face ``config.json`` that the caller has already parsed.

No I/O here: the CLI reads the file and passes the dict (and, for error messages, its path).
Keys follow the ``transformers`` config classes; a few families use other names for the same
quantity (GPT-2's ``n_layer``/``n_embd``/``n_head``/``n_positions``), which are accepted too.

What a ModelSpec cannot hold is dropped: shared experts (Qwen2-MoE, DeepSeek), MLA, sliding
windows, rope scaling. Biases and norms are not weights that the spec counts.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from llmemu.core.errors import ConfigError
from llmemu.core.specs.dtypes import DTYPE_BYTES
from llmemu.core.specs.model import ModelSpec

# Synonyms, first match wins. The first name of each tuple is the one error messages use.
_LAYERS = ("num_hidden_layers", "n_layer", "num_layers")
_HIDDEN = ("hidden_size", "n_embd", "d_model")
_HEADS = ("num_attention_heads", "n_head")
_KV_HEADS = ("num_key_value_heads", "num_kv_heads")
_FFN = ("intermediate_size", "ffn_dim", "n_inner")
_EXPERTS = ("num_local_experts", "n_routed_experts", "num_experts")
_TOP_K = ("num_experts_per_tok", "num_selected_experts", "moe_topk")
_CONTEXT = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")
_DTYPE = ("torch_dtype", "dtype")

# FFN without a gate (fc1 -> act -> fc2): two weight matrices instead of three.
NON_GATED_TYPES = frozenset(
    {"opt", "gpt2", "gpt_bigcode", "gptj", "gpt_neox", "phi", "bloom", "falcon"}
)
# Families whose config class defaults tie_word_embeddings to true (transformers' default);
# for every other family the spec assumes an untied LM head unless the key says otherwise.
TIED_BY_DEFAULT = frozenset({"opt", "gpt2", "gpt_bigcode", "gptj", "bloom", "gemma", "gemma2"})
# Families with a bias on the QKV projection when the config has no explicit key (OPT: enable_bias).
QKV_BIAS_TYPES = frozenset({"qwen2", "qwen2_moe", "qwen2_vl", "gpt2", "gpt_bigcode"})

# ModelSpec field -> the config.json key a user should edit when that field is invalid.
_FIELD_KEY = {
    "num_layers": _LAYERS[0],
    "hidden_size": _HIDDEN[0],
    "num_heads": _HEADS[0],
    "num_kv_heads": _KV_HEADS[0],
    "head_dim": "head_dim",
    "ffn_size": _FFN[0],
    "num_experts": _EXPERTS[0],
    "experts_per_token": _TOP_K[0],
    "moe_layer_interval": "decoder_sparse_step",
    "vocab_size": "vocab_size",
    "tied_embeddings": "tie_word_embeddings",
    "qkv_bias": "attention_bias",
    "dtype_bytes": _DTYPE[0],
    "max_context": _CONTEXT[0],
}


def _where(name: str, path: str | None) -> str:
    return f"HF config {path}" if path else f"HF config.json of model {name!r}"


def _first(config: dict[str, Any], keys: tuple[str, ...]) -> Any:
    """Value of the first key present with a non-null value, else None."""
    for key in keys:
        if config.get(key) is not None:
            return config[key]
    return None


def _require(config: dict[str, Any], keys: tuple[str, ...], where: str) -> Any:
    value = _first(config, keys)
    if value is None:
        also = f" (or {', '.join(keys[1:])})" if len(keys) > 1 else ""
        raise ConfigError(f"{where}: missing required key {keys[0]!r}{also}; add it to that file")
    return value


def _dtype_bytes(config: dict[str, Any], where: str) -> int:
    value = _first(config, _DTYPE)
    if value is None:
        return 2
    key = str(value).removeprefix("torch.")
    if key not in DTYPE_BYTES:
        valid = ", ".join(sorted(DTYPE_BYTES))
        raise ConfigError(f"{where}: unsupported torch_dtype {value!r}; use one of: {valid}")
    return DTYPE_BYTES[key]


def from_hf_config(config: dict[str, Any], name: str, *, path: str | None = None) -> ModelSpec:
    """ModelSpec for a parsed HF ``config.json``; ``path`` only improves error messages.

    Raises ConfigError naming the missing or invalid key and the file to fix.
    """
    where = _where(name, path)
    if not isinstance(config, dict):
        raise ConfigError(f"{where}: expected a JSON object, got {type(config).__name__}")
    model_type = str(config.get("model_type", "")).lower()

    num_layers = _require(config, _LAYERS, where)
    hidden = _require(config, _HIDDEN, where)
    heads = _require(config, _HEADS, where)
    vocab = _require(config, ("vocab_size",), where)
    kv_heads = _first(config, _KV_HEADS)
    if kv_heads is None:
        kv_heads = 1 if config.get("multi_query") else heads
    head_dim = config.get("head_dim")
    if head_dim is None:
        if not isinstance(hidden, int) or not isinstance(heads, int) or heads <= 0:
            head_dim = 0  # let validation below name the bad key
        elif hidden % heads:
            raise ConfigError(
                f"{where}: hidden_size={hidden} is not a multiple of "
                f"num_attention_heads={heads}; add an explicit 'head_dim' key"
            )
        else:
            head_dim = hidden // heads

    num_experts = _first(config, _EXPERTS) or 0
    top_k = _first(config, _TOP_K) or 0
    if num_experts and not top_k:
        raise ConfigError(
            f"{where}: {num_experts} experts but missing required key {_TOP_K[0]!r}; add it"
        )
    ffn = _first(config, _FFN)
    if num_experts and config.get("moe_intermediate_size") is not None:
        ffn = config["moe_intermediate_size"]  # per-expert width (Qwen2-MoE, DeepSeek)
    if ffn is None:
        ffn = 4 * hidden if isinstance(hidden, int) else 0

    tied = config.get("tie_word_embeddings")
    if tied is None:
        tied = model_type in TIED_BY_DEFAULT
    qkv_bias = _first(config, ("qkv_bias", "attention_bias"))
    if qkv_bias is None:
        qkv_bias = (
            config.get("enable_bias", True) if model_type == "opt" else model_type in QKV_BIAS_TYPES
        )
    arch = ", ".join(config.get("architectures") or []) or model_type or "unknown architecture"

    fields = {
        "name": name,
        "num_layers": num_layers,
        "hidden_size": hidden,
        "num_heads": heads,
        "num_kv_heads": kv_heads,
        "head_dim": head_dim,
        "ffn_size": ffn,
        "gated_ffn": model_type not in NON_GATED_TYPES,
        "num_experts": num_experts,
        "experts_per_token": top_k if num_experts else 0,
        "moe_layer_interval": config.get("decoder_sparse_step") or 1,
        "vocab_size": vocab,
        "tied_embeddings": tied,
        "qkv_bias": qkv_bias,
        "dtype_bytes": _dtype_bytes(config, where),
        "max_context": _require(config, _CONTEXT, where),
        "source": f"{path or 'HF config.json'} ({arch})",
    }
    try:
        return ModelSpec(**fields)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            key = _FIELD_KEY.get(field)
            msg = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"invalid key {key!r}: {msg}" if key else f"inconsistent keys: {msg}")
        raise ConfigError(f"{where}: {'; '.join(problems)}; fix that file") from None
