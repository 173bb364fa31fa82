"""Generators seeded without SeedSequence (service/text/seeding.py), and the answers drawn
with them (OutputSampler), against numpy's own default_rng over many seeds."""

from __future__ import annotations

import random

import numpy as np
import pytest

from llmemu.core.workload import Constant, Normal, Uniform, sample_lengths
from llmemu.service.text.lengths import Draw, OutputSampler
from llmemu.service.text.seeding import SeededGenerators, entropy_words


def test_entropy_words_split_each_int_least_significant_word_first():
    assert entropy_words([0]) == [0]
    assert entropy_words([7, 0, 1]) == [7, 0, 1]
    assert entropy_words([(5 << 32) + 9, 0]) == [9, 5, 0]
    assert entropy_words([1 << 64]) == [0, 0, 1]
    with pytest.raises(ValueError, match="-1"):
        entropy_words([-1])


def test_generator_state_equals_default_rng_over_many_entropies():
    gens, pick = SeededGenerators(), random.Random(5)
    for _ in range(3000):
        # 1 to 7 ints of 1 to 100 bits: 1 to 16 words, below, at and above the pool of 4.
        entropy = [pick.getrandbits(pick.choice((1, 8, 32, 33, 64, 100))) for _ in range(pick.randint(1, 7))]  # fmt: skip
        assert gens.generator(entropy).bit_generator.state == np.random.default_rng(entropy).bit_generator.state  # fmt: skip


def test_generator_draws_equal_default_rng_after_reuse():
    gens = SeededGenerators()
    first = gens.generator([3, 0, 1])
    first.integers(0, 10, 7)  # leaves half of a 64-bit output buffered
    again = gens.generator([3, 0, 2])
    expected = np.random.default_rng([3, 0, 2])
    assert again.integers(0, 8192, 9).tolist() == expected.integers(0, 8192, 9).tolist()
    assert again.random(3).tolist() == expected.random(3).tolist()


def reference_draw(sampler: OutputSampler, counter: int, max_tokens: int, *, ignore_eos: bool, min_tokens: int, seed: int | None) -> Draw:  # fmt: skip
    """OutputSampler.draw as written with numpy's default_rng."""
    if seed is None:
        rng = np.random.default_rng([sampler.seed, 0, counter])
    else:
        rng = np.random.default_rng([sampler.seed, 1, seed & 0xFFFFFFFFFFFFFFFF])
    natural = None
    if not ignore_eos and sampler.length is not None:
        natural = int(sample_lengths(sampler.length, 1, rng)[0])
    elif not ignore_eos and sampler.rows is not None and len(sampler.rows):
        natural = max(1, int(sampler.rows[rng.integers(0, len(sampler.rows))]))
    if natural is None or natural >= max_tokens:
        n, reason = max_tokens, "length"
    else:
        n, reason = min(max(natural, min_tokens, 1), max_tokens), "stop"
    ids = sampler.word_ids[rng.integers(0, len(sampler.word_ids), n)]
    return Draw(n, reason, ids.tolist())


LENGTHS = {
    "none": {},
    "constant": {"length": Constant(kind="constant", value=40)},
    "normal": {"length": Normal(kind="normal", mean=30, std=20)},
    "uniform": {"length": Uniform(kind="uniform", low=1, high=90)},
    "rows": {"rows": np.array([3, 17, 64, 200])},
}


@pytest.mark.parametrize("words", [8192, 4096, 2, 5000, 3])
@pytest.mark.parametrize("lengths", list(LENGTHS))
def test_draws_equal_default_rng_draws(words: int, lengths: str):
    """Power-of-two word counts take the raw-output path, the others numpy's integers;
    with a length distribution the generator is used before the words are drawn."""
    word_ids = list(range(1000, 1000 + words))
    sampler = OutputSampler(word_ids, 11, **LENGTHS[lengths])
    pick, unseeded = random.Random(words), 0
    for _ in range(300):
        max_tokens = pick.choice((1, 2, 7, 128, 129, 333))
        ignore_eos = pick.random() < 0.3
        min_tokens = pick.choice((0, 0, 5))
        seed = pick.choice((None, None, 0, 42, -3, 1 << 70))
        unseeded += seed is None  # unseeded draws are numbered from 1
        want = reference_draw(sampler, unseeded, max_tokens, ignore_eos=ignore_eos, min_tokens=min_tokens, seed=seed)  # fmt: skip
        assert sampler.draw(max_tokens, ignore_eos=ignore_eos, min_tokens=min_tokens, seed=seed) == want  # fmt: skip
