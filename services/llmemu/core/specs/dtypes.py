"""Element widths by dtype name: one table for a scenario's `dtype` and a config.json's
`torch_dtype`, so both accept the same names."""

from __future__ import annotations

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
