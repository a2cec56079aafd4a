"""A drop-in `keras.layers.LSTM` that trains faster on CPU: same mathematics, same weights, same state.

Why the stock layer is slow on a CPU: its generic time loop computes, at every step, the input
projection x_t @ kernel as a small matrix product, and its automatic backward pass adds a whole
[units, 4 * units] weight gradient into an accumulator at every step. `FusedLSTM` keeps Keras's
layer (variables, stateful carry, `reset_state`, config) and replaces only the time loop with
`lstm_sequence`, which has a hand-written gradient:

- the input projection of a chunk of `chunk_steps` time steps is one matrix product;
- the recurrence is written out step by step (a stateful training model has a static sequence
  length): each step is one [rows, U] x [U, 4U] product plus a few element-wise ops. The steps of one
  chunk form a function that is traced once and called per chunk, which keeps the graph small (fast to
  trace and optimise before the first step);
- the backward pass runs the recurrence once for the gate gradients dz and computes the weight and
  input gradients of each chunk as large products (torch-rnn's approach); it keeps only h, c and the
  gates of each step, as PyTorch's LSTM does;
- the batch rows are split into `batch_groups` independent recurrences.
Chunk products depend only on data already computed, and the groups do not depend on each other at
all, so TensorFlow's inter-op threads run several step-by-step chains and the large products side
by side: with one intra-op thread per op (charkeras/threads.py), two cores stay busy without a
synchronisation per step. See tools/bench_train.py and the README's performance section.

Equations (gate order i, f, c, o, keras.layers.LSTM's defaults):
    z = x_t @ kernel + h @ recurrent_kernel + bias;  i, f, g, o = sig(z_i), sig(z_f), tanh(z_c), sig(z_o)
    c' = f * c + i * g;  h' = o * tanh(c')
"""

from __future__ import annotations

import keras
import tensorflow as tf

from charkeras.machine import cpu_cores

# Steps per chunk of the input projection and of the weight-gradient products. Smaller chunks
# overlap more with the recurrence, larger ones make better products; 5 to 25 measured alike
# (units 256, batch 64, 2 cores).
CHUNK_STEPS = 10
# Fewest batch rows per independent recurrence: below this the per-step products get inefficient.
MIN_GROUP_ROWS = 16


def resolve_lstm_impl(name: str) -> str:
    """'auto' is the cuDNN-capable keras layer when a GPU is visible and the fused layer otherwise."""
    if name != "auto":
        return name
    return "keras" if tf.config.list_physical_devices("GPU") else "fused"


def default_batch_groups(batch_size: int | None) -> int:
    """One recurrence per core, each of at least MIN_GROUP_ROWS rows."""
    if not batch_size:
        return 1
    return max(1, min(cpu_cores(), batch_size // MIN_GROUP_ROWS))


def lstm_sequence(x, h0, c0, kernel, recurrent_kernel, bias, chunk_steps: int = CHUNK_STEPS,
                  batch_groups: int = 1):
    """Run an LSTM over x [B, T, D] from (h0, c0) [B, U]; returns (h at every step [B, T, U], h_T, c_T).

    T must be static, and B too when batch_groups > 1. Gradients flow to every argument.
    """
    steps, batch = x.shape[1], x.shape[0]
    if steps is None:
        raise ValueError("lstm_sequence needs a static sequence length")
    # Read variables now: a stateful layer passes its state variables as h0, c0 and assigns the
    # final state to them before the backward pass runs, which needs the initial values.
    x, h0, c0, kernel, recurrent_kernel, bias = (
        tf.convert_to_tensor(a) for a in (x, h0, c0, kernel, recurrent_kernel, bias))
    chunk_sizes = [min(chunk_steps, steps - s) for s in range(0, steps, chunk_steps)]
    groups = min(batch_groups, batch) if batch else 1
    if groups == 1:
        return _lstm_chunked(x, h0, c0, kernel, recurrent_kernel, bias, chunk_sizes)
    sizes = [batch // groups + (g < batch % groups) for g in range(groups)]
    parts = [_lstm_chunked(xg, hg, cg, kernel, recurrent_kernel, bias, chunk_sizes)
             for xg, hg, cg in zip(*(tf.split(a, sizes, axis=0) for a in (x, h0, c0)))]
    return tuple(tf.concat(list(p), axis=0) for p in zip(*parts))


# The step-by-step recurrence of one chunk, forward and backward, as functions that are traced once
# per shape and called once per chunk. Written out inline, T steps made a graph of ~13,000 nodes for
# 2 layers x 2 groups at T = 100: 4-5 s of Python tracing plus 3-4 s of graph optimisation before the
# first step. `_noinline` keeps each call one node, so the optimiser also sees each body once.
_CALLED_NOT_INLINED = {"_noinline": True}


@tf.function(autograph=False, experimental_attributes=_CALLED_NOT_INLINED)
def _forward_chunk(projected, h, c, recurrent_kernel):
    """projected [n, b, 4U] = x_t @ kernel + bias for n steps from (h, c) [b, U]; returns h and c after
    each step [n, b, U] and the gates (i, f, g, o) [n, b, 4U]: all the backward pass keeps (tanh(c) is
    recomputed there, and the states before each step are these shifted by one)."""
    h_after, c_after, gates = [], [], []
    for z_in in tf.unstack(projected):
        zi, zf, zg, zo = tf.split(z_in + tf.matmul(h, recurrent_kernel), 4, axis=1)
        i, f, g, o = tf.sigmoid(zi), tf.sigmoid(zf), tf.tanh(zg), tf.sigmoid(zo)
        c = f * c + i * g
        h = o * tf.tanh(c)
        h_after.append(h)
        c_after.append(c)
        gates.append(tf.concat([i, f, g, o], axis=1))
    return tf.stack(h_after), tf.stack(c_after), tf.stack(gates)


@tf.function(autograph=False, experimental_attributes=_CALLED_NOT_INLINED)
def _backward_chunk(gates, c_after, c_in, d_h_after, dh, dc, recurrent_kernel):
    """The gate gradients dz [n, b, 4U] of one chunk that started from cell state c_in, and the state
    gradients (dh, dc) before it."""
    gates, c_after, d_h_after = (tf.unstack(a) for a in (gates, c_after, d_h_after))
    dz_steps = [None] * len(gates)
    for t in reversed(range(len(gates))):
        i, f, g, o = tf.split(gates[t], 4, axis=1)
        c_before = c_after[t - 1] if t else c_in
        tanh_c = tf.tanh(c_after[t])
        dh = dh + d_h_after[t]
        dc = dc + tf.raw_ops.TanhGrad(y=tanh_c, dy=dh * o)
        dz = tf.concat([tf.raw_ops.SigmoidGrad(y=i, dy=dc * g),
                        tf.raw_ops.SigmoidGrad(y=f, dy=dc * c_before),
                        tf.raw_ops.TanhGrad(y=g, dy=dc * i),
                        tf.raw_ops.SigmoidGrad(y=o, dy=dh * tanh_c)], axis=1)
        dc = dc * f
        dh = tf.matmul(dz, recurrent_kernel, transpose_b=True)
        dz_steps[t] = dz
    return tf.stack(dz_steps), dh, dc


def _lstm_chunked(x, h0, c0, kernel, recurrent_kernel, bias, chunk_sizes):
    @tf.custom_gradient
    def run(x, h0, c0, kernel, recurrent_kernel, bias):
        batch = x.shape[0] or tf.shape(x)[0]
        units, width = h0.shape[-1], x.shape[-1]
        # Time-major chunks [n, b, D]: per-step slices are then contiguous, which TensorFlow hands out
        # without copying (a strided unstack was not free).
        x_chunks = tf.split(tf.transpose(x, [1, 0, 2]), chunk_sizes, axis=0)
        h, c = h0, c0
        saved = []  # per chunk: (x rows [n*b, D], h and c before it [b, U], h and c after each step, gates)
        for n, xc in zip(chunk_sizes, x_chunks):
            rows = tf.reshape(xc, [-1, width])
            projected = tf.reshape(tf.nn.bias_add(tf.matmul(rows, kernel), bias), [n, batch, 4 * units])
            h_after, c_after, gates = _forward_chunk(projected, h, c, recurrent_kernel)
            saved.append((rows, h, c, h_after, c_after, gates))
            h, c = h_after[-1], c_after[-1]

        def grad(d_out, d_h_last, d_c_last):
            d_h_chunks = tf.split(tf.transpose(d_out, [1, 0, 2]), chunk_sizes, axis=0)
            dh = tf.zeros_like(h0) if d_h_last is None else d_h_last
            dc = tf.zeros_like(c0) if d_c_last is None else d_c_last
            d_kernel, d_recurrent, d_bias, d_x = [], [], [], []
            # The products of chunk k depend only on its dz, so they run beside the recurrence of chunk k-1.
            for n, (rows, h_in, c_in, h_after, c_after, gates), d_h in reversed(list(zip(chunk_sizes, saved,
                                                                                          d_h_chunks))):
                dz, dh, dc = _backward_chunk(gates, c_after, c_in, d_h, dh, dc, recurrent_kernel)
                dz = tf.reshape(dz, [-1, 4 * units])
                h_before = tf.concat([h_in[None], h_after[:-1]], axis=0)
                d_kernel.append(tf.matmul(rows, dz, transpose_a=True))
                d_recurrent.append(tf.matmul(tf.reshape(h_before, [-1, units]), dz, transpose_a=True))
                d_bias.append(tf.reduce_sum(dz, axis=0))
                d_x.append(tf.reshape(tf.matmul(dz, kernel, transpose_b=True), [n, batch, width]))
            return (tf.transpose(tf.concat(d_x[::-1], axis=0), [1, 0, 2]), dh, dc,
                    tf.add_n(d_kernel), tf.add_n(d_recurrent), tf.add_n(d_bias))

        h_outputs = tf.concat([chunk[3] for chunk in saved], axis=0)
        return (tf.transpose(h_outputs, [1, 0, 2]), h, c), grad

    return run(x, h0, c0, kernel, recurrent_kernel, bias)


@keras.saving.register_keras_serializable(package="charkeras")
class FusedLSTM(keras.layers.LSTM):
    """keras.layers.LSTM with `lstm_sequence` as its time loop.

    Variables (`<name>/lstm_cell/kernel`, `recurrent_kernel`, `bias`, and the stateful carry), their
    layout and initialisers are keras.layers.LSTM's own, so checkpoints move freely between the
    two layers. Configurations the fused kernel does not cover (masks, cell dropout, other
    activations, no bias, go_backwards, a dynamic sequence length) run Keras's generic loop.
    `batch_groups=None` picks `default_batch_groups(batch size)` when the layer is called.
    """

    def __init__(self, units, chunk_steps: int = CHUNK_STEPS, batch_groups: int | None = None, **kwargs):
        if chunk_steps < 1:
            raise ValueError(f"chunk_steps must be >= 1 (got {chunk_steps})")
        if batch_groups is not None and batch_groups < 1:
            raise ValueError(f"batch_groups must be >= 1 or None (got {batch_groups})")
        super().__init__(units, use_cudnn=False, **kwargs)
        self.chunk_steps = chunk_steps
        self.batch_groups = batch_groups

    def _fused_kernel_applies(self, sequences, mask) -> bool:
        cell = self.cell
        return (mask is None and not self.go_backwards and sequences.shape[1] is not None
                and cell.use_bias and not cell.dropout and not cell.recurrent_dropout
                and cell.activation is keras.activations.tanh
                and cell.recurrent_activation is keras.activations.sigmoid)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not self._fused_kernel_applies(sequences, mask):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        cell = self.cell
        dtype = sequences.dtype
        groups = self.batch_groups or default_batch_groups(sequences.shape[0])
        outputs, h, c = lstm_sequence(
            sequences, initial_state[0], initial_state[1],
            tf.cast(cell.kernel, dtype), tf.cast(cell.recurrent_kernel, dtype), tf.cast(cell.bias, dtype),
            chunk_steps=self.chunk_steps, batch_groups=groups)
        return h, outputs, [h, c]

    def get_config(self):
        return {**super().get_config(), "chunk_steps": self.chunk_steps, "batch_groups": self.batch_groups}
