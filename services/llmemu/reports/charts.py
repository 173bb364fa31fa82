"""Matplotlib set-up shared by the report's plots: a headless backend, PNG bytes out."""

from __future__ import annotations

import io
from typing import Any

from llmemu.core.errors import ConfigError

# One colour per processor or operation, stable across plots (matplotlib's tab10).
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    try:
        import matplotlib
    except ImportError:
        raise ConfigError(
            "reports need matplotlib; install it with: pip install 'llmemu[plots]'"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png_bytes(fig: Any) -> bytes:
    plt = pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]
