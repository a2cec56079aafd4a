"""Sampling the next character: one set of rules, in TensorFlow ops and in numpy, drawing the same numbers.

The rules, in every runtime:
- ids 0 (padding) and 1 (unknown) are never sampled;
- top_k > 0 keeps the ids whose logit is at least the k-th largest (ties stay); 0 keeps all;
- temperature <= 0 is greedy (argmax);
- otherwise the i-th sampled character (i = 0, 1, ...) is argmax(logits / temperature + g), in float64,
  with Gumbel noise g = -log(-log(u + 2^-24)) and u = tf.random.stateless_uniform([B, V],
  seed=stateless_fold_in(seed, i)): the Gumbel-max form of a draw from softmax(logits / temperature).
  Character i's noise depends on i alone, so a longer request extends a shorter one.

`generate_ids` (TensorFlow) is the loop of the exported `generate`, of training runs and of the samples
printed during training. `sample_next_numpy` + `gumbel_noise` are the same rules for the LiteRT
runtime, which never imports TensorFlow; charkeras/philox.py recomputes TensorFlow's stateless
uniform numbers, so a seed gives the same text in every runtime (up to the float rounding of the
models themselves: the .tflite logits differ from the SavedModel's by ~1e-6).

`step_fn(char_ids [B] int32, state [B, 2L, U]) -> (logits [B, V], state)` is the contract's `step`.
TensorFlow is imported inside the TensorFlow functions, so the numpy half loads without it.
"""

from __future__ import annotations

import numpy as np

from charkeras import philox
from charkeras.vocab import PAD_ID, UNK_ID

_MIN_TEMPERATURE = 1e-6
_UNIFORM_SHIFT = 2.0**-24  # moves u off 0, so -log(-log(u)) is finite; u + shift stays below 1


# ---- TensorFlow ---------------------------------------------------------------------------------------
def mask_special(logits):
    """Padding and unknown ids must never be sampled."""
    import tensorflow as tf

    vocab = tf.shape(logits)[-1]
    special = tf.logical_or(tf.range(vocab) == PAD_ID, tf.range(vocab) == UNK_ID)
    return tf.where(special, tf.constant(float("-inf"), logits.dtype), logits)


def sample_next(logits, temperature, top_k, seed):
    """Next ids [B] from logits [B, V] with the noise of `seed` (= stateless_fold_in(seed, i))."""
    import tensorflow as tf

    logits = mask_special(tf.cast(logits, tf.float32))
    vocab = tf.shape(logits)[-1]
    k = tf.where(top_k > 0, tf.minimum(top_k, vocab), vocab)
    kth_best = tf.math.top_k(logits, k=k).values[:, -1:]
    logits = tf.where(logits < kth_best, tf.constant(float("-inf")), logits)
    greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)
    uniform = tf.cast(tf.random.stateless_uniform(tf.shape(logits), seed=seed), tf.float64)
    gumbel = -tf.math.log(-tf.math.log(uniform + _UNIFORM_SHIFT))
    scale = tf.cast(tf.maximum(temperature, _MIN_TEMPERATURE), tf.float64)
    drawn = tf.argmax(tf.cast(logits, tf.float64) / scale + gumbel, axis=-1, output_type=tf.int32)
    return tf.where(temperature <= 0.0, greedy, drawn)


def feed(step_fn, ids, state):
    """Run `ids` [B, P] through the model; returns (logits after the last id, state)."""
    import tensorflow as tf

    length = tf.shape(ids)[1]
    logits0, state0 = step_fn(ids[:, 0], state)

    def body(i, _logits, state):
        logits, state = step_fn(ids[:, i], state)
        return i + 1, logits, state

    _, logits, state = tf.while_loop(
        lambda i, *_: i < length, body, (tf.constant(1), logits0, state0),
        shape_invariants=(tf.TensorShape([]), logits0.shape, state0.shape),
    )
    return logits, state


def generate_ids(step_fn, prime_ids, state, num_chars, temperature, top_k, seed):
    """Feed `prime_ids` [B, P>=1], then sample `num_chars` ids per row: returns [B, num_chars] int32."""
    import tensorflow as tf

    temperature = tf.cast(temperature, tf.float32)
    top_k = tf.cast(top_k, tf.int32)
    seed = tf.cast(seed, tf.int32)
    logits, state = feed(step_fn, prime_ids, state)
    batch = tf.shape(prime_ids)[0]
    out = tf.TensorArray(tf.int32, size=num_chars, element_shape=tf.TensorShape([None]))

    def body(i, logits, state, out):
        ids = sample_next(logits, temperature, top_k, tf.random.experimental.stateless_fold_in(seed, i))
        out = out.write(i, ids)
        logits, state = step_fn(ids, state)
        return i + 1, logits, state, out

    _, _, _, out = tf.while_loop(
        lambda i, *_: i < num_chars, body, (tf.constant(0), logits, state, out),
        shape_invariants=(tf.TensorShape([]), logits.shape, state.shape, tf.TensorShape(None)),
    )
    return tf.reshape(tf.transpose(out.stack()), [batch, num_chars])


# ---- numpy --------------------------------------------------------------------------------------------
def gumbel_noise(seed: tuple[int, int], first: int, count: int, batch: int, vocab: int) -> np.ndarray:
    """float64 [count, batch, vocab]: the noise `sample_next` adds for characters first .. first+count-1.

    Computed for many characters in one go: numpy's cost is per call, and one character's noise is a
    single Philox call of B x V elements.
    """
    seeds = philox.stateless_fold_in(np.array(seed, np.int32), np.arange(first, first + count))
    uniform = philox.stateless_uniform(seeds, batch * vocab).reshape(count, batch, vocab)
    return -np.log(-np.log(uniform.astype(np.float64) + _UNIFORM_SHIFT))


def sample_next_numpy(logits: np.ndarray, temperature: float, top_k: int, noise: np.ndarray | None) -> np.ndarray:
    """`sample_next` in numpy: next ids [B] from float32 logits [B, V] and this character's noise [B, V]."""
    logits = np.array(logits, np.float32)
    logits[:, [PAD_ID, UNK_ID]] = -np.inf
    vocab = logits.shape[-1]
    if 0 < top_k < vocab:
        kth_best = np.partition(logits, vocab - top_k, axis=-1)[:, vocab - top_k, None]
        logits[logits < kth_best] = -np.inf
    temperature = np.float32(temperature)  # what the TensorFlow signatures receive
    if temperature <= 0:
        return logits.argmax(-1).astype(np.int32)
    scale = np.float64(max(temperature, np.float32(_MIN_TEMPERATURE)))
    return (logits.astype(np.float64) / scale + noise).argmax(-1).astype(np.int32)
