"""Element widths by dtype name: one table for a scenario's `dtype` and a config.json's
`torch_dtype`, so both accept the same names."""

from __future__ import annotations

from llmemu.core.errors import ConfigError

DTYPE_BYTES = {
    "fp32": 4,
    "float32": 4,
    "float": 4,
    "fp16": 2,
    "float16": 2,
    "half": 2,
    "bf16": 2,
    "bfloat16": 2,
    "fp8": 1,
    "float8_e4m3fn": 1,
    "float8_e5m2": 1,
    "int8": 1,
}


def dtype_update(dtype: str | None = None, kv_dtype: str | None = None) -> dict[str, int]:
    """ModelSpec fields for a scenario's `dtype` and `kv_dtype`.

    A 16- or 32-bit `dtype` sets every tensor. An 8-bit one is weight quantisation as the
    engines run it (TensorRT-LLM and vLLM FP8): FP8 decoder weights and KV cache, while
    activations, the LM head and the all-reduces stay at the model's 16 bits. `kv_dtype`
    sets the KV cache alone (vLLM's --kv-cache-dtype)."""
    update: dict[str, int] = {}
    if dtype is not None:
        width = _width("dtype", dtype)
        if width >= 2:
            update = {"dtype_bytes": width, "weight_dtype_bytes": 0, "kv_dtype_bytes": 0}
            update["comm_dtype_bytes"] = 0
        else:
            update = {"weight_dtype_bytes": width, "kv_dtype_bytes": width}
    if kv_dtype is not None:
        update["kv_dtype_bytes"] = _width("kv_dtype", kv_dtype)
    return update


def _width(field: str, name: str) -> int:
    if name not in DTYPE_BYTES:
        raise ConfigError(f"{field} {name!r}: choose one of {', '.join(DTYPE_BYTES)}")
    return DTYPE_BYTES[name]
