"""`numpy.random.default_rng(entropy)`'s generator, seeded without building a SeedSequence.

Every request draws its answer from a generator seeded by a list of small integers, on
the event loop. `default_rng` spends most of its ~40 us there on SeedSequence's
bookkeeping (arrays, an error-state context, a fresh bit generator); its hash of the
entropy is a few dozen 32-bit multiplications, done here with Python ints, and the PCG64
state it leads to is set on one reused generator per thread (requests also draw on worker
threads). The algorithms are numpy's (`bit_generator.pyx` SeedSequence, `pcg64.h`
`pcg_setseq_128_srandom_r`); tests/service/test_seeding.py checks the state and the draws
against numpy's own over many seeds.
"""

from __future__ import annotations

import threading

import numpy as np

_MASK32 = 0xFFFFFFFF
_MASK128 = (1 << 128) - 1
_POOL_SIZE = 4
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_MULT_L, _MIX_MULT_R = 0xCA01F9DD, 0x4973F715
_XSHIFT = 16
_PCG_MULT = 0x2360ED051FC65DA44385DF649FCCF645


def entropy_words(entropy: list[int]) -> list[int]:
    """The entropy as SeedSequence reads a list of non-negative ints: each one's 32-bit
    words, least significant first (0 is one word)."""
    words: list[int] = []
    for value in entropy:
        if value < 0:
            raise ValueError(f"expected non-negative integers in the seed, got {value}")
        words.append(value & _MASK32)
        value >>= 32
        while value:
            words.append(value & _MASK32)
            value >>= 32
    return words


def _hash_constants(init: int, mult: int, n: int) -> list[tuple[int, int]]:
    """The (xor, multiplier) pair of each of n successive hashes: SeedSequence's hash
    constant moves on by the same multiplication at every hash, whatever is hashed."""
    pairs, const = [], init
    for _ in range(n):
        after = (const * mult) & _MASK32
        pairs.append((const, after))
        const = after
    return pairs


_INIT_HASHES = _hash_constants(_INIT_A, _MULT_A, _POOL_SIZE * _POOL_SIZE)
_MIX_STEPS = [
    (src, dst, *_INIT_HASHES[_POOL_SIZE + k])
    for k, (src, dst) in enumerate(
        (s, d) for s in range(_POOL_SIZE) for d in range(_POOL_SIZE) if s != d
    )  # fmt: skip
]
"""Mixing the pool into itself: (source, destination, xor, multiplier), in numpy's order."""
_OUT_HASHES = _hash_constants(_INIT_B, _MULT_B, 8)


def seed_state(entropy: list[int]) -> list[int]:
    """SeedSequence(entropy).generate_state(8, uint32): the pool mixed from the entropy,
    then hashed out into eight words. Straight loops over precomputed constants: this runs
    once per request."""
    words = entropy_words(entropy)
    if len(words) > _POOL_SIZE:
        return _seed_state_long(words)
    words += [0] * (_POOL_SIZE - len(words))
    pool = []
    for value, (x, m) in zip(words, _INIT_HASHES, strict=False):
        value = ((value ^ x) * m) & _MASK32
        pool.append(value ^ (value >> _XSHIFT))
    for src, dst, x, m in _MIX_STEPS:
        value = ((pool[src] ^ x) * m) & _MASK32
        value = (_MIX_MULT_L * pool[dst] - _MIX_MULT_R * (value ^ (value >> _XSHIFT))) & _MASK32
        pool[dst] = value ^ (value >> _XSHIFT)
    out = []
    for i, (x, m) in enumerate(_OUT_HASHES):
        value = ((pool[i & 3] ^ x) * m) & _MASK32
        out.append(value ^ (value >> _XSHIFT))
    return out


def _seed_state_long(words: list[int]) -> list[int]:
    """seed_state of more entropy words than the pool holds, hash by hash as numpy does."""
    hash_const = _INIT_A

    def hashmix(value: int) -> int:
        nonlocal hash_const
        value ^= hash_const
        hash_const = (hash_const * _MULT_A) & _MASK32
        value = (value * hash_const) & _MASK32
        return value ^ (value >> _XSHIFT)

    def mix(x: int, y: int) -> int:
        result = (_MIX_MULT_L * x - _MIX_MULT_R * y) & _MASK32
        return result ^ (result >> _XSHIFT)

    pool = [hashmix(words[i]) for i in range(_POOL_SIZE)]
    for src in range(_POOL_SIZE):
        for dst in range(_POOL_SIZE):
            if src != dst:
                pool[dst] = mix(pool[dst], hashmix(pool[src]))
    for extra in words[_POOL_SIZE:]:
        for dst in range(_POOL_SIZE):
            pool[dst] = mix(pool[dst], hashmix(extra))
    out = []
    for i, (x, m) in enumerate(_OUT_HASHES):
        value = ((pool[i % _POOL_SIZE] ^ x) * m) & _MASK32
        out.append(value ^ (value >> _XSHIFT))
    return out


def pcg64_state(entropy: list[int]) -> tuple[int, int]:
    """(state, inc) of `PCG64(SeedSequence(entropy))`."""
    w = seed_state(entropy)
    # generate_state(4, uint64) is the eight words viewed as little-endian uint64 pairs;
    # PCG64 takes the first two as the 128-bit seed (high first), the last two as the stream.
    s = [w[0] | w[1] << 32, w[2] | w[3] << 32, w[4] | w[5] << 32, w[6] | w[7] << 32]
    init_state, init_seq = s[0] << 64 | s[1], s[2] << 64 | s[3]
    inc = (init_seq << 1 | 1) & _MASK128
    state = inc  # the generator steps once from 0: 0 * mult + inc
    state = ((state + init_state) * _PCG_MULT + inc) & _MASK128
    return state, inc


class SeededGenerators:
    """`generator(entropy)`: a Generator in the state `np.random.default_rng(entropy)` starts
    in. The same object is handed out again on the same thread: use it before the next call."""

    def __init__(self) -> None:
        self._local = threading.local()

    def generator(self, entropy: list[int]) -> np.random.Generator:
        local = self._local
        bits = getattr(local, "bits", None)
        if bits is None:
            bits = local.bits = np.random.PCG64(0)
            local.generator = np.random.Generator(bits)
        state, inc = pcg64_state(entropy)
        bits.state = {
            "bit_generator": "PCG64",
            "state": {"state": state, "inc": inc},
            "has_uint32": 0,
            "uinteger": 0,
        }
        return local.generator
