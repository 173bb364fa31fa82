"""Presets load through libyaml (as scenario files do) and give what PyYAML's own loader
gives; a `<gpu>xN` system reads only the device preset it names."""

from __future__ import annotations

import yaml

from llmemu.core import presets
from llmemu.core.catalog import load_system


def test_every_preset_reads_as_pyyaml_reads_it():
    for kind in presets.KINDS:
        for name in presets.names(kind):
            text = presets._folder(kind).joinpath(f"{name}.yaml").read_text()
            want = yaml.load(text, Loader=yaml.SafeLoader)
            want.setdefault("name", name)
            assert presets.raw(kind, name) == want, (kind, name)


def test_a_replicated_gpu_system_reads_one_device_preset():
    presets.raw.cache_clear()
    system = load_system("h100x4")
    assert (system.tensor_parallel, presets.raw.cache_info().currsize) == (4, 1)
