"""The sampling rules of charkeras/sampling/__init__.py as TensorFlow ops, and the in-graph
generation loop.

`step_fn(char_ids [B] int32, state [B, 2L, U]) -> (logits [B, V], state)` is the contract's `step`.
"""

from __future__ import annotations

import tensorflow as tf

from charkeras.sampling.numpy_sampler import MIN_TEMPERATURE, UNIFORM_SHIFT
from charkeras.text.vocabulary import PAD_ID, UNK_ID


def mask_special(logits):
    """Padding and unknown ids must never be sampled."""
    vocab = tf.shape(logits)[-1]
    special = tf.logical_or(tf.range(vocab) == PAD_ID, tf.range(vocab) == UNK_ID)
    return tf.where(special, tf.constant(float("-inf"), logits.dtype), logits)


def sample_next(logits, temperature, top_k, seed):
    """Next ids [B] from logits [B, V] with the noise of `seed` (= stateless_fold_in(seed, i))."""
    logits = mask_special(tf.cast(logits, tf.float32))
    vocab = tf.shape(logits)[-1]
    k = tf.where(top_k > 0, tf.minimum(top_k, vocab), vocab)
    kth_best = tf.math.top_k(logits, k=k).values[:, -1:]
    logits = tf.where(logits < kth_best, tf.constant(float("-inf")), logits)
    greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)
    uniform = tf.cast(tf.random.stateless_uniform(tf.shape(logits), seed=seed), tf.float64)
    gumbel = -tf.math.log(-tf.math.log(uniform + UNIFORM_SHIFT))
    scale = tf.cast(tf.maximum(temperature, MIN_TEMPERATURE), tf.float64)
    drawn = tf.argmax(tf.cast(logits, tf.float64) / scale + gumbel, axis=-1, output_type=tf.int32)
    return tf.where(temperature <= 0.0, greedy, drawn)


def feed(step_fn, ids, state):
    """Run `ids` [B, P] through the model; returns (logits after the last id, state)."""
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
    """Feed `prime_ids` [B, P>=1], then sample `num_chars` ids per row: returns [B, num_chars]
    int32."""
    temperature = tf.cast(temperature, tf.float32)
    top_k = tf.cast(top_k, tf.int32)
    seed = tf.cast(seed, tf.int32)
    logits, state = feed(step_fn, prime_ids, state)
    batch = tf.shape(prime_ids)[0]
    out = tf.TensorArray(tf.int32, size=num_chars, element_shape=tf.TensorShape([None]))

    def body(i, logits, state, out):
        ids = sample_next(logits, temperature, top_k,
                          tf.random.experimental.stateless_fold_in(seed, i))
        out = out.write(i, ids)
        logits, state = step_fn(ids, state)
        return i + 1, logits, state, out

    _, _, _, out = tf.while_loop(
        lambda i, *_: i < num_chars, body, (tf.constant(0), logits, state, out),
        shape_invariants=(tf.TensorShape([]), logits.shape, state.shape, tf.TensorShape(None)),
    )
    return tf.reshape(tf.transpose(out.stack()), [batch, num_chars])
