"""Step functions: `step_fn(ids [B], state [B, 2L, U]) -> (logits [B, V], state)`, the interface
every in-graph loop (sampling, scoring) calls.

- `inference_model_step_fn`: the Keras inference model itself (the `step` signature and .tflite
  files);
- `written_out_step_fn`: the same arithmetic written out for loops that run inside one graph.

Why the written-out form:

`generate`, `score` and the samples printed during training call the step thousands of times inside
a `tf.while_loop`, where a 2x512 model is limited by reading its weights and by the number of ops
per step. Written out, each layer costs one matmul instead of the Keras cell's two plus glue:
- layer 0's input projection becomes a row gather from a [vocab, 4 * units] table
  (embedding x kernel + bias), since its input is one of `vocab` embeddings;
- deeper layers multiply [x, h] by the stacked [kernel; recurrent_kernel].
The table and the stacked kernels are derived from the inference model's variables each time the
enclosing `tf.function` runs, once and outside the loop: the export stores every weight once, and a
weight changed after tracing is seen at the next call. Results equal the Keras model's up to float
rounding (tests/test_step_functions.py); the `step` signature and the .tflite files keep the Keras
inference model itself, which is what the contract's clients call one step at a time.
"""

from __future__ import annotations

import tensorflow as tf

from charkeras.model.networks import lstm_name


def inference_model_step_fn(model):
    """The Keras inference model as a step_fn."""

    def step_fn(ids, state):
        out = model({"char_id": ids, "state": state}, training=False)
        return out["logits"], out["state"]

    return step_fn


def written_out_step_fn(model, layers: int):
    """A step_fn equal to `inference_model_step_fn(model)`, cheaper inside a loop.

    Call it inside the `tf.function` that runs the loop, before the loop: the call itself computes
    the prepared weights.
    """
    cells = [model.get_layer(lstm_name(i)) for i in range(layers)]
    embedding = tf.convert_to_tensor(model.get_layer("embedding").embeddings)
    dense = model.get_layer("logits")
    first = cells[0]
    input_table = tf.matmul(embedding,
                            tf.convert_to_tensor(first.kernel)) + tf.convert_to_tensor(first.bias)
    recurrent_0 = tf.convert_to_tensor(first.recurrent_kernel)
    stacked = [(tf.concat([tf.convert_to_tensor(c.kernel),
                           tf.convert_to_tensor(c.recurrent_kernel)], axis=0),
                tf.convert_to_tensor(c.bias)) for c in cells[1:]]
    dense_kernel, dense_bias = tf.convert_to_tensor(dense.kernel), tf.convert_to_tensor(dense.bias)

    def lstm_update(cell, z, c):
        # The gate order and activations of keras.layers.LSTMCell (implementation 2): i, f, g, o.
        i, f, g, o = tf.split(z, 4, axis=-1)
        c = cell.recurrent_activation(f) * c + cell.recurrent_activation(i) * cell.activation(g)
        return cell.recurrent_activation(o) * cell.activation(c), c

    def step_fn(ids, state):
        carried = tf.unstack(state, num=2 * layers, axis=1)
        z = tf.gather(input_table, ids) + tf.matmul(carried[0], recurrent_0)
        h, c = lstm_update(first, z, carried[1])
        new_state = [h, c]
        for i, (kernel, bias) in enumerate(stacked, start=1):
            z = tf.matmul(tf.concat([h, carried[2 * i]], axis=1), kernel) + bias
            h, c = lstm_update(cells[i], z, carried[2 * i + 1])
            new_state += [h, c]
        return tf.matmul(h, dense_kernel) + dense_bias, tf.stack(new_state, axis=1)

    return step_fn
