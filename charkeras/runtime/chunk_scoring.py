"""A chunk of parallel streams scored in one graph: the TensorFlow half of charkeras/inspect/stream_scoring.py.

`chunk_scorer(step)` wraps a `step` signature (ids [B], state -> logits, state) in a tf.function that
runs T steps in a `tf.while_loop` and returns the masked sum of -ln p(target) (float64) and the state.
"""

from __future__ import annotations

import tensorflow as tf


def chunk_scorer(step, layers: int, units: int):
    @tf.function(input_signature=[
        tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.int32),
        tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None, 2 * layers, units], tf.float32),
    ])
    def score(x, y, mask, state):
        steps = tf.shape(x)[1]

        def body(t, state, total):
            out = step(char_id=x[:, t], state=state)
            log_probs = tf.nn.log_softmax(tf.cast(out["logits"], tf.float64))
            nll = -tf.gather(log_probs, y[:, t], batch_dims=1)
            total += tf.reduce_sum(nll * tf.cast(mask[:, t], tf.float64))
            return t + 1, tf.ensure_shape(out["state"], state.shape), total

        _, state, total = tf.while_loop(lambda t, *_: t < steps, body,
                                        (tf.constant(0), state, tf.constant(0.0, tf.float64)))
        return total, state

    return score
