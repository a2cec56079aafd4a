"""The sampling rules of charkeras/sampling/__init__.py in numpy, for runtimes without TensorFlow.

`gumbel_noise` recomputes the uniform numbers TensorFlow's `stateless_uniform` draws (philox.py), so
`sample_next_numpy` picks the ids graph_sampler.sample_next picks for the same logits and seed.
"""

from __future__ import annotations

import numpy as np

from charkeras.sampling import philox
from charkeras.text.vocabulary import PAD_ID, UNK_ID

MIN_TEMPERATURE = 1e-6
UNIFORM_SHIFT = 2.0**-24  # moves u off 0, so -log(-log(u)) is finite; u + shift stays below 1
_NOISE_BLOCK = 64  # characters whose sampling noise is computed in one numpy pass
_NOISE_BLOCK_VALUES = 1 << 22  # at most this many noise values (float64) per pass


def gumbel_noise(seed: tuple[int, int], first: int, count: int, batch: int,
                 vocab: int) -> np.ndarray:
    """float64 [count, batch, vocab]: the noise `sample_next` adds for characters first ..
    first+count-1.

    Computed for many characters in one go: numpy's cost is per call, and one character's noise is a
    single Philox call of B x V elements.
    """
    seeds = philox.stateless_fold_in(np.array(seed, np.int32), np.arange(first, first + count))
    uniform = philox.stateless_uniform(seeds, batch * vocab).reshape(count, batch, vocab)
    return -np.log(-np.log(uniform.astype(np.float64) + UNIFORM_SHIFT))


def sample_next_numpy(logits: np.ndarray, temperature: float, top_k: int,
                      noise: np.ndarray | None) -> np.ndarray:
    """`sample_next` in numpy: next ids [B] from float32 logits [B, V] and this character's noise
    [B, V]."""
    logits = np.array(logits, np.float32)
    logits[:, [PAD_ID, UNK_ID]] = -np.inf
    vocab = logits.shape[-1]
    if 0 < top_k < vocab:
        kth_best = np.partition(logits, vocab - top_k, axis=-1)[:, vocab - top_k, None]
        logits[logits < kth_best] = -np.inf
    temperature = np.float32(temperature)  # what the TensorFlow signatures receive
    if temperature <= 0:
        return logits.argmax(-1).astype(np.int32)
    scale = np.float64(max(temperature, np.float32(MIN_TEMPERATURE)))
    return (logits.astype(np.float64) / scale + noise).argmax(-1).astype(np.int32)


def generate_ids_numpy(step, prime_ids: np.ndarray, state: np.ndarray, n: int, temperature: float,
                       top_k: int, seed: tuple[int, int]) -> np.ndarray:
    """graph_sampler.generate_ids in numpy: feed `prime_ids` [B, P>=1] to `step(ids, state) ->
    (logits, state)`, then sample `n` ids per row with the noise of `seed` (a pair, as
    `stateless_uniform`'s)."""
    batch = len(prime_ids)
    for i in range(prime_ids.shape[1]):
        logits, state = step(prime_ids[:, i], state)
    out = np.empty((batch, n), np.int32)
    noise = None
    # Characters per noise block: fewer for big batches, so the float64 block stays near 32 MB
    # (100,000 samples at 64 characters a block took 11 GB). Each character's noise depends only
    # on (seed, its position), so the block size never changes the text.
    block = max(1, min(_NOISE_BLOCK, _NOISE_BLOCK_VALUES // (batch * logits.shape[-1])))
    for i in range(n):
        if np.float32(temperature) > 0 and i % block == 0:
            noise = gumbel_noise(seed, i, min(block, n - i), batch, logits.shape[-1])
        char_noise = None if noise is None else noise[i % block]
        out[:, i] = ids = sample_next_numpy(logits, temperature, top_k, char_noise)
        if i + 1 < n:
            logits, state = step(ids, state)
    return out
