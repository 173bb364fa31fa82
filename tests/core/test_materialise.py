"""Drawing a workload's requests: caps on prompts and on the context."""

from __future__ import annotations

from llmemu.core.simulate import materialise
from llmemu.core.workload import WorkloadSpec


def spec(**extra) -> WorkloadSpec:
    return WorkloadSpec.model_validate(
        {
            "requests": 5,
            "arrival": {"kind": "burst"},
            "input_tokens": {"kind": "constant", "value": 512},
            "output_tokens": {"kind": "constant", "value": 64},
            **extra,
        }
    )


def test_max_input_tokens_caps_prompts_and_leaves_outputs_alone():
    drawn = materialise(spec(max_input_tokens=100), seed=0, max_context=4096)
    assert drawn.inputs.tolist() == [100] * 5 and drawn.outputs.tolist() == [64] * 5


def test_the_context_caps_prompt_plus_output():
    # A 300-token context: outputs keep their 64, prompts get 300 - 64 = 236.
    drawn = materialise(spec(), seed=0, max_context=300)
    assert drawn.inputs.tolist() == [236] * 5 and drawn.outputs.tolist() == [64] * 5
