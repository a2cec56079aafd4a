"""Beam search over a model's `step` signature with keras_hub's BeamSampler: the most likely
continuation.

keras_hub.samplers.BeamSampler calls `next(prompt, cache, index)` and reorders `cache` with the
beams it keeps, whatever the cache holds: here the LSTM state [batch * beams, 2L, U] is the cache,
and `next` feeds the character at `index - 1` through one step. The prime (all but its last
character) is run first to make the starting state. TensorFlow and keras_hub are imported here only,
so plain sampling and LiteRT never pay for them.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from charkeras.errors import require


def beam_search(step, prime_ids: np.ndarray, n: int, beams: int, layers: int,
                units: int) -> np.ndarray:
    """ids [B, n] continuing each row of `prime_ids` [B, P] (P >= 1) with the most likely text found
    by a beam of `beams`; `step(char_id=[B], state=[B, 2L, U])` returns {"logits", "state"}."""
    from keras_hub.samplers import BeamSampler

    require(beams >= 1, f"--beam must be >= 1 (got {beams})")
    prime_ids = np.asarray(prime_ids, np.int32)
    batch, p = prime_ids.shape
    state = tf.zeros([batch, 2 * layers, units])
    for i in range(p - 1):  # the state after all but the last prime character
        state = step(char_id=tf.constant(prime_ids[:, i]), state=state)["state"]
    prompt = np.zeros((batch, p + n), np.int32)
    prompt[:, :p] = prime_ids
    mask = np.zeros((batch, p + n), bool)
    mask[:, :p] = True

    def next_fn(prompt, cache, index):
        out = step(char_id=prompt[:, index - 1], state=cache)
        logits = out["logits"]
        # ids 0 (padding) and 1 (unknown) are never produced, as in sampling
        logits = tf.concat([tf.fill([tf.shape(logits)[0], 2], -1e9), logits[:, 2:]], axis=1)
        return logits, None, out["state"]

    sampler = BeamSampler(num_beams=beams)

    @tf.function
    def run(prompt, mask, state):
        return sampler(next_fn, prompt, cache=state, index=p, mask=mask)

    out = run(tf.constant(prompt), tf.constant(mask), state)
    return out.numpy()[:, p:]


def beam_generate(model, n: int, prime: str, beams: int) -> str:
    """The most likely `n` characters after `prime` for a loaded SavedModel or run
    (charkeras.load)."""
    functions = getattr(model, "functions", None)
    require(functions is not None and "step" in functions,
            f"--beam runs on TensorFlow: use --runtime savedmodel or run (got {model.runtime})")
    model.warn_unknown(prime)
    ids = beam_search(functions["step"], model.prime_ids(prime)[None, :], n, beams, model.layers,
                      model.units)
    return model.vocab.decode(ids[0])
