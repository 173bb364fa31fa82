"""Defaults of the edge policy's options, apart from the edge pricer so that checking any
scenario's policy (core/batching.py SETTINGS) reads them without importing it."""

from __future__ import annotations

RUNTIME_BYTES = 0.5e9
"""Default resident size of the serving process itself (assumption, docs/edge.md)."""
CHECKPOINT_DTYPE_BYTES = 2
"""Llama 2 checkpoints on Hugging Face are FP16 (config.json torch_dtype float16)."""
