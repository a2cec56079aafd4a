"""A drop-in `keras.layers.LSTM` that trains faster on CPU: same mathematics, same weights, same state.

Why the stock layer is slow on a CPU: its generic time loop computes, at every step, the input
projection x_t @ kernel as a small matrix product, and its automatic backward pass adds a whole
[units, 4 * units] weight gradient into an accumulator at every step. `FusedLSTM` keeps Keras's
layer (variables, stateful carry, `reset_state`, config) and replaces only the time loop with
`lstm_sequence`, which has a hand-written gradient:

- the input projection of a chunk of `chunk_steps` time steps is one matrix product;
- the recurrence is written out step by step (a stateful training model has a static sequence
  length): each step is one [4U, U] x [U, rows] product plus a few element-wise ops (feature-major: the
  operand layouts oneDNN runs fastest, see below). The steps of one
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
#
# Both run feature-major: states are [U, b] and gates [4U, b] (a column per batch row), so the
# per-step products are W^T [4U, U] @ h and W [U, 4U] @ dz. Row-major states made them h @ W and
# dz @ W^T, which oneDNN's sgemm runs at half speed: h @ W on AVX2 CPUs, dz @ W^T on AVX-512 ones
# (`python tools/bench_products.py` prints every form; README, "Product layouts"). Transposing a
# chunk at its boundaries costs ~0.05 ms against ~2 ms of products. Measured best at 32 rows per
# recurrence; with 16 or fewer, AVX-512 runs row-major h @ W faster (README says by how much).
_CALLED_NOT_INLINED = {"_noinline": True}


@tf.function(autograph=False, experimental_attributes=_CALLED_NOT_INLINED)
def _forward_chunk(projected, h, c, recurrent_kernel_t):
    """projected [n, 4U, b] = (x_t @ kernel + bias)^T for n steps from (h, c) [U, b]; returns h and c
    after each step [n, U, b] and the gates (i, f, g, o) [n, 4U, b]: all the backward pass keeps
    (tanh(c) is recomputed there, and the states before each step are these shifted by one)."""
    h_after, c_after, gates = [], [], []
    for z_in in tf.unstack(projected):
        zi, zf, zg, zo = tf.split(z_in + tf.matmul(recurrent_kernel_t, h), 4, axis=0)
        i, f, g, o = tf.sigmoid(zi), tf.sigmoid(zf), tf.tanh(zg), tf.sigmoid(zo)
        c = f * c + i * g
        h = o * tf.tanh(c)
        h_after.append(h)
        c_after.append(c)
        gates.append(tf.concat([i, f, g, o], axis=0))
    return tf.stack(h_after), tf.stack(c_after), tf.stack(gates)


@tf.function(autograph=False, experimental_attributes=_CALLED_NOT_INLINED)
def _backward_chunk(gates, c_after, c_in, d_h_after, dh, dc, recurrent_kernel):
    """The gate gradients of one chunk that started from cell state c_in, as dz [4U, n, b] (ready to be
    the [4U, n * b] operand of the chunk's products), and the state gradients (dh, dc) [U, b] before it.
    Takes what `_forward_chunk` returned, and d_h_after [n, U, b]."""
    gates, c_after, d_h_after = (tf.unstack(a) for a in (gates, c_after, d_h_after))
    dz_steps = [None] * len(gates)
    for t in reversed(range(len(gates))):
        i, f, g, o = tf.split(gates[t], 4, axis=0)
        c_before = c_after[t - 1] if t else c_in
        tanh_c = tf.tanh(c_after[t])
        dh = dh + d_h_after[t]
        dc = dc + tf.raw_ops.TanhGrad(y=tanh_c, dy=dh * o)
        dz = tf.concat([tf.raw_ops.SigmoidGrad(y=i, dy=dc * g),
                        tf.raw_ops.SigmoidGrad(y=f, dy=dc * c_before),
                        tf.raw_ops.TanhGrad(y=g, dy=dc * i),
                        tf.raw_ops.SigmoidGrad(y=o, dy=dh * tanh_c)], axis=0)
        dc = dc * f
        dh = tf.matmul(recurrent_kernel, dz)
        dz_steps[t] = dz
    return tf.stack(dz_steps, axis=1), dh, dc


def _lstm_chunked(x, h0, c0, kernel, recurrent_kernel, bias, chunk_sizes):
    @tf.custom_gradient
    def run(x, h0, c0, kernel, recurrent_kernel, bias):
        batch = x.shape[0] or tf.shape(x)[0]
        units, width = h0.shape[-1], x.shape[-1]
        # Weights in the layouts the products run fastest with (see above): one copy per call.
        kernel_t, recurrent_kernel_t = tf.transpose(kernel), tf.transpose(recurrent_kernel)
        # Time-major chunks [n, b, D]: per-step slices are then contiguous, which TensorFlow hands out
        # without copying (a strided unstack was not free).
        x_chunks = tf.split(tf.transpose(x, [1, 0, 2]), chunk_sizes, axis=0)
        h_rows, h, c = h0, tf.transpose(h0), tf.transpose(c0)
        saved = []  # per chunk: (x rows [n*b, D], h rows before it [b, U], c before it [U, b], h rows
        #            after each step [n, b, U], c after each step [n, U, b], gates [n, 4U, b])
        for n, xc in zip(chunk_sizes, x_chunks):
            rows = tf.reshape(xc, [-1, width])
            projected = tf.nn.bias_add(tf.matmul(rows, kernel_t, transpose_b=True), bias)
            projected = tf.transpose(tf.reshape(projected, [n, batch, 4 * units]), [0, 2, 1])
            h_after, c_after, gates = _forward_chunk(projected, h, c, recurrent_kernel_t)
            h_after_rows = tf.transpose(h_after, [0, 2, 1])
            saved.append((rows, h_rows, c, h_after_rows, c_after, gates))
            h_rows, h, c = h_after_rows[-1], h_after[-1], c_after[-1]

        def grad(d_out, d_h_last, d_c_last):
            d_h_chunks = tf.split(tf.transpose(d_out, [1, 2, 0]), chunk_sizes, axis=0)
            dh = tf.zeros_like(h) if d_h_last is None else tf.transpose(d_h_last)
            dc = tf.zeros_like(c) if d_c_last is None else tf.transpose(d_c_last)
            d_kernel_t, d_recurrent_t, d_bias, d_x_t = [], [], [], []
            # The products of chunk k depend only on its dz, so they run beside the recurrence of chunk k-1.
            for n, (rows, h_in, c_in, h_after, c_after, gates), d_h in reversed(list(zip(chunk_sizes, saved,
                                                                                          d_h_chunks))):
                dz, dh, dc = _backward_chunk(gates, c_after, c_in, d_h, dh, dc, recurrent_kernel)
                dz = tf.reshape(dz, [4 * units, -1])
                h_before = tf.concat([h_in[None], h_after[:-1]], axis=0)
                d_kernel_t.append(tf.matmul(dz, rows))
                d_recurrent_t.append(tf.matmul(dz, tf.reshape(h_before, [-1, units])))
                d_bias.append(tf.reduce_sum(dz, axis=1))
                d_x_t.append(tf.matmul(kernel, dz))
            d_x = tf.reshape(tf.concat(d_x_t[::-1], axis=1), [width, -1, batch])
            return (tf.transpose(d_x, [2, 1, 0]), tf.transpose(dh), tf.transpose(dc),
                    tf.transpose(tf.add_n(d_kernel_t)), tf.transpose(tf.add_n(d_recurrent_t)), tf.add_n(d_bias))

        h_outputs = tf.concat([chunk[3] for chunk in saved], axis=0)
        return (tf.transpose(h_outputs, [1, 0, 2]), h_rows, tf.transpose(c)), grad

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
