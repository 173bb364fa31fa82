"""The compiled part of the package: the offline engine's loop (services/llmemu/core/_fastcore.c).

Optional: where it cannot be built (no C compiler or Python headers) the package installs
without it and the Python engine runs everything (llmemu/core/fastcore.py)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "llmemu.core._fastcore",
            ["services/llmemu/core/_fastcore.c"],
            # No fused multiply-add: the C loop's floats must round as the Python engine's.
            extra_compile_args=["-O2", "-ffp-contract=off"],
            optional=True,
        )
    ]
)
