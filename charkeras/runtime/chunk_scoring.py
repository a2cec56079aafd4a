"""A chunk of parallel streams scored in one graph: the TensorFlow half of
charkeras/inspect/stream_scoring.py.

`sequence_chunk_scorer(variables, ...)` runs the model over a [B, T] chunk layer by layer, as
training
does: each layer's input projection is a few large products over the chunk, and only the recurrent
    products go step by step, in
charkeras/model/fused_lstm.py's recurrence with the batch split into one independent group per core.
That is 2-3 times faster than running the `step` signature T times in a `tf.while_loop`
(`step_chunk_scorer`, kept for step functions whose weights are not at hand). Both return the masked
sum of -ln p(target) (float64) and the state, and compute the same arithmetic up to float rounding.
"""

from __future__ import annotations

import tensorflow as tf

from charkeras.model.fused_lstm import default_batch_groups, lstm_sequence, resolve_layout


def step_chunk_scorer(step, layers: int, units: int):
    @tf.function(input_signature=[
        tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.int32),
        tf.TensorSpec([None, None], tf.float32),
        tf.TensorSpec([None, 2 * layers, units], tf.float32),
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


def inference_weights(variables, layers: int) -> dict | None:
    """The inference model's weights by path (embedding/embeddings, lstm_0/kernel, ..., logits/bias)
    from Keras weights or a loaded signature's variables, or None when one is missing."""
    by_path = {getattr(v, "path", None) or v.name.removesuffix(":0"): v for v in variables}
    paths = ["embedding/embeddings", "logits/kernel", "logits/bias"] + [
        f"lstm_{i}/{name}" for i in range(layers)
        for name in ("kernel", "recurrent_kernel", "bias")]
    return {p: by_path[p] for p in paths} if all(p in by_path for p in paths) else None


def sequence_chunk_scorer(weights: dict, layers: int):
    """score(x [B, T], y [B, T], mask [B, T], state [B, 2L, U]) -> (total nll, state); B and T
    static per trace (a chunk of 100 steps and the shorter last one: two traces)."""

    @tf.function
    def score(x, y, mask, state):
        batch = x.shape[0]
        groups = default_batch_groups(batch)
        carried = tf.unstack(state, num=2 * layers, axis=1)
        h = tf.gather(weights["embedding/embeddings"], x)
        new_state = []
        for i in range(layers):
            units = carried[2 * i].shape[-1]
            layer = [weights[f"lstm_{i}/{name}"] for name in ("kernel", "recurrent_kernel", "bias")]
            h, h_last, c_last = lstm_sequence(h, carried[2 * i], carried[2 * i + 1], *layer,
                                              batch_groups=groups,
                                              layout=resolve_layout("auto", batch, units, groups))
            new_state += [h_last, c_last]
        logits = tf.matmul(tf.reshape(h, [-1, h.shape[-1]]),
                           weights["logits/kernel"]) + weights["logits/bias"]
        log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float64))
        nll = -tf.gather(log_probs, tf.reshape(y, [-1]), batch_dims=1)
        total = tf.reduce_sum(nll * tf.cast(tf.reshape(mask, [-1]), tf.float64))
        return total, tf.stack(new_state, axis=1)

    return score
