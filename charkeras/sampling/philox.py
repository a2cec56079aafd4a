"""TensorFlow's stateless random numbers, recomputed in numpy.

The LiteRT runtime samples without TensorFlow but must draw the numbers the SavedModel's `generate`
draws, so that a seed gives the same text in every runtime. TensorFlow's stateless ops on CPU use
Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", 2011) keyed from the
seed as below; tests/test_sampling.py checks every function here against TensorFlow itself.

- seed [2] int32 -> key (2 x uint32) and counter (4 x uint32): one Philox block of the seed words
  under a fixed key ("GenerateKey" in TensorFlow's stateless_random_ops.cc);
- element j of a stateless output comes from the block at counter + j // 4, word j % 4;
- float32 uniform: the low 23 bits of the word as the mantissa of a float in [1, 2), minus 1.

Every function takes a batch of seeds [S, 2] at once: numpy pays per call, not per element.
"""

from __future__ import annotations

import numpy as np

_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)
_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_SCRAMBLE_KEY = (0x3EC8F720, 0x02461E29)


def philox_block(counter: list[np.ndarray], key: list[np.ndarray]) -> list[np.ndarray]:
    """Philox-4x32-10 of 4 counter words under 2 key words (uint64 arrays holding 32-bit values)."""
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for round_ in range(10):
        if round_:
            k0, k1 = (k0 + _W0) & _MASK32, (k1 + _W1) & _MASK32
        p0, p1 = _M0 * c0, _M1 * c2
        c0, c1, c2, c3 = ((p1 >> _SHIFT32) ^ c1 ^ k0, p1 & _MASK32, (p0 >> _SHIFT32) ^ c3 ^ k1,
                          p0 & _MASK32)
    return [c0, c1, c2, c3]


def _seed_key_counter(seeds: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Key and counter words of int32 seeds [S, 2], as TensorFlow derives them (GenerateKey)."""
    # int32 -> uint64 sign-extends
    seeds = np.asarray(seeds, np.int64).reshape(-1, 2).astype(np.uint64)
    words = [seeds[:, 0] & _MASK32, seeds[:, 0] >> _SHIFT32, seeds[:, 1] & _MASK32,
             seeds[:, 1] >> _SHIFT32]
    fixed = [np.full_like(words[0], k) for k in _SCRAMBLE_KEY]
    mix = philox_block(words, fixed)
    zero = np.zeros_like(mix[0])
    return [mix[0], mix[1]], [zero, zero, mix[2], mix[3]]


def random_words(seeds: np.ndarray, size: int) -> np.ndarray:
    """uint32 [S, size]: the raw words of a stateless op with `size` elements, for each seed."""
    key, counter = _seed_key_counter(seeds)
    blocks = -(-size // 4)
    offset = np.arange(blocks, dtype=np.uint64)[None, :]
    # Counter words 0 and 1 start at 0, so adding the block index cannot carry into word 2.
    counter = [counter[0][:, None] + offset, counter[1][:, None] + np.zeros_like(offset),
               counter[2][:, None] + np.zeros_like(offset), counter[3][:, None]
               + np.zeros_like(offset)]
    out = philox_block(counter, [key[0][:, None], key[1][:, None]])
    return np.stack(out, axis=-1).reshape(len(key[0]), blocks * 4)[:, :size].astype(np.uint32)


def stateless_uniform(seeds: np.ndarray, size: int) -> np.ndarray:
    """float32 [S, size] = tf.random.stateless_uniform([size], seed) for each seed (on CPU)."""
    words = random_words(seeds, size)
    in_one_to_two = ((words & np.uint32(0x7FFFFF)) | np.uint32(0x3F800000)).view(np.float32)
    return in_one_to_two - np.float32(1.0)


def stateless_fold_in(seed, data: np.ndarray) -> np.ndarray:
    """int32 [S, 2] = tf.random.experimental.stateless_fold_in(seed, d) for each d of int32
    `data`."""
    first = random_words(np.asarray(seed).reshape(1, 2), 1)[0, 0].astype(np.uint32).view(np.int32)
    data = np.asarray(data, np.int32).reshape(-1)
    return np.stack([np.full_like(data, first), data], axis=1)
