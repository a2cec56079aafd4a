"""A drop-in `keras.layers.LSTM` that trains faster on CPU: same mathematics, same weights, same
state.

Why the stock layer is slow on a CPU: its generic time loop computes, at every step, the input
projection x_t @ kernel as a small matrix product, and its automatic backward pass adds a whole
[units, 4 * units] weight gradient into an accumulator at every step. `FusedLSTM` keeps Keras's
layer (variables, stateful carry, `reset_state`, config) and replaces only the time loop with
`lstm_sequence`, which has a hand-written gradient:

- the input projection of a chunk of `chunk_steps` time steps is one matrix product;
- the recurrence is written out step by step (a stateful training model has a static sequence
  length): each step is one [4U, U] x [U, rows] product plus a few element-wise ops (feature-major:
  the operand layouts oneDNN runs fastest, see below). The steps of one
  chunk form a function that is traced once and called per chunk, which keeps the graph small (fast
  to trace and optimise before the first step);
- the backward pass runs the recurrence once for the gate gradients dz and computes the weight and
  input gradients of each chunk as large products (torch-rnn's approach); it keeps only h, c and the
  gates of each step, as PyTorch's LSTM does;
- the batch rows are split into `batch_groups` independent recurrences.
Chunk products depend only on data already computed, and the groups do not depend on each other at
all, so TensorFlow's inter-op threads run several step-by-step chains and the large products side
by side: with one intra-op thread per op (charkeras/threads.py), two cores stay busy without a
synchronisation per step. See tools/bench_train.py and docs/performance.md.

Equations (gate order i, f, c, o, keras.layers.LSTM's defaults):
    z = x_t @ kernel + h @ recurrent_kernel + bias
    i, f, g, o = sig(z_i), sig(z_f), tanh(z_c), sig(z_o)
    c' = f * c + i * g;  h' = o * tanh(c')
"""

from __future__ import annotations

import keras
import tensorflow as tf

from charkeras.machine import cpu_cores
from charkeras.model.lstm_layout import choose_lstm_layout

# Steps per chunk of the input projection and of the weight-gradient products. Smaller chunks
# overlap more with the recurrence, larger ones make better products; 5 to 25 measured alike
# (units 256, batch 64, 2 cores).
CHUNK_STEPS = 10
# Fewest batch rows per independent recurrence: below this the per-step products get inefficient.
MIN_GROUP_ROWS = 16
LAYOUTS = ("feature", "row")


def resolve_lstm_impl(name: str) -> str:
    """'auto' is the cuDNN-capable keras layer when a GPU is visible and the fused layer
    otherwise."""
    if name != "auto":
        return name
    return "keras" if tf.config.list_physical_devices("GPU") else "fused"


def default_batch_groups(batch_size: int | None) -> int:
    """One recurrence per core, each of at least MIN_GROUP_ROWS rows."""
    if not batch_size:
        return 1
    return max(1, min(cpu_cores(), batch_size // MIN_GROUP_ROWS))


def resolve_layout(layout: str, batch: int, units: int, batch_groups: int | None = None) -> str:
    """'auto' is the faster of LAYOUTS on this CPU for this batch, split into `batch_groups`
    recurrences [default: default_batch_groups], and width (timed:
    charkeras/model/lstm_layout.py)."""
    if layout != "auto":
        return layout
    groups = batch_groups or default_batch_groups(batch)
    return choose_lstm_layout(-(-batch // groups), units)


def lstm_sequence(x, h0, c0, kernel, recurrent_kernel, bias, chunk_steps: int = CHUNK_STEPS,
                  batch_groups: int = 1, layout: str = "feature"):
    """Run an LSTM over x [B, T, D] from (h0, c0) [B, U]; returns (h at every step [B, T, U], h_T,
    c_T).

    T must be static, and B too when batch_groups > 1. Gradients flow to every argument. `layout`:
    how the recurrence holds its states, "feature" ([U, rows]) or "row" ([rows, U]); same numbers up
    to rounding, speed per CPU and shape (charkeras/model/lstm_layout.py chooses by timing both).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS} (got {layout!r})")
    steps, batch = x.shape[1], x.shape[0]
    if steps is None:
        raise ValueError("lstm_sequence needs a static sequence length")
    # Read variables now: a stateful layer passes its state variables as h0, c0 and assigns the
    # final state to them before the backward pass runs, which needs the initial values.
    x, h0, c0, kernel, recurrent_kernel, bias = (
        tf.convert_to_tensor(a) for a in (x, h0, c0, kernel, recurrent_kernel, bias))
    chunk_sizes = [min(chunk_steps, steps - s) for s in range(0, steps, chunk_steps)]
    groups = min(batch_groups, batch) if batch else 1
    feature_major = layout == "feature"
    if groups == 1:
        return _lstm_chunked(x, h0, c0, kernel, recurrent_kernel, bias, chunk_sizes, feature_major)
    sizes = [batch // groups + (g < batch % groups) for g in range(groups)]
    parts = [_lstm_chunked(xg, hg, cg, kernel, recurrent_kernel, bias, chunk_sizes, feature_major)
             for xg, hg, cg in zip(*(tf.split(a, sizes, axis=0) for a in (x, h0, c0)))]
    return tuple(tf.concat(list(p), axis=0) for p in zip(*parts))


# The step-by-step recurrence of one chunk, forward and backward, as functions that are traced once
# per shape and called once per chunk. Written out inline, T steps made a graph of ~13,000 nodes for
# 2 layers x 2 groups at T = 100: 4-5 s of Python tracing plus 3-4 s of graph optimisation before
# the first step. `_noinline` keeps each call one node, so the optimiser also sees each body once.
#
# Two layouts of the same arithmetic. Feature-major: states [U, b] and gates [4U, b] (a column per
# batch row), per-step products W^T [4U, U] @ h and W [U, 4U] @ dz. Row-major: states [b, U],
# products h @ W and dz @ W^T (with W^T stored: a transpose flag halved its speed on AVX-512).
# oneDNN's sgemm runs them at up to 3x different speeds, which way round depends on the instruction
# set and the number of rows b (on AVX2 the row-major forward product runs at half speed; on AVX-512
# with 16 rows the feature-major ones run at ~0.75): `python tools/bench_products.py` prints every
# form (docs/performance.md, "Product layouts"). Transposing a chunk at its boundaries costs ~0.05
# ms against ~2 ms of products.
_CALLED_NOT_INLINED = {"_noinline": True}


@tf.function(autograph=False, experimental_attributes=_CALLED_NOT_INLINED)
def _forward_chunk(projected, h, c, recurrent, feature_major: bool):
    """projected [n, 4U, b] (feature-major; [n, b, 4U] row-major) = x_t @ kernel + bias for n steps
    from (h, c) ([U, b]; [b, U]), with `recurrent` = W^T (feature-major) or W (row-major); returns h
    and c after each step [n, U, b] ([n, b, U]) and the gates (i, f, g, o) [n, 4U, b] ([n, b, 4U]):
    all the backward pass keeps (tanh(c) is recomputed there, and the states before each step are
    these shifted by one)."""
    axis = 0 if feature_major else 1
    h_after, c_after, gates = [], [], []
    for z_in in tf.unstack(projected):
        z = z_in + (tf.matmul(recurrent, h) if feature_major else tf.matmul(h, recurrent))
        zi, zf, zg, zo = tf.split(z, 4, axis=axis)
        i, f, g, o = tf.sigmoid(zi), tf.sigmoid(zf), tf.tanh(zg), tf.sigmoid(zo)
        c = f * c + i * g
        h = o * tf.tanh(c)
        h_after.append(h)
        c_after.append(c)
        gates.append(tf.concat([i, f, g, o], axis=axis))
    return tf.stack(h_after), tf.stack(c_after), tf.stack(gates)


@tf.function(autograph=False, experimental_attributes=_CALLED_NOT_INLINED)
def _backward_chunk(gates, c_after, c_in, d_h_after, dh, dc, recurrent, feature_major: bool):
    """The gate gradients of one chunk that started from cell state c_in, and the state gradients
    (dh, dc) before it. Takes what `_forward_chunk` returned, d_h_after in the same layout, and
    `recurrent` = W (feature-major) or W^T (row-major). dz is [4U, n, b] feature-major and [n, b,
    4U] row-major: either way ready to be the [4U, n * b] or [n * b, 4U] operand of the chunk's
    products."""
    axis = 0 if feature_major else 1
    gates, c_after, d_h_after = (tf.unstack(a) for a in (gates, c_after, d_h_after))
    dz_steps = [None] * len(gates)
    for t in reversed(range(len(gates))):
        i, f, g, o = tf.split(gates[t], 4, axis=axis)
        c_before = c_after[t - 1] if t else c_in
        tanh_c = tf.tanh(c_after[t])
        dh = dh + d_h_after[t]
        dc = dc + tf.raw_ops.TanhGrad(y=tanh_c, dy=dh * o)
        dz = tf.concat([tf.raw_ops.SigmoidGrad(y=i, dy=dc * g),
                        tf.raw_ops.SigmoidGrad(y=f, dy=dc * c_before),
                        tf.raw_ops.TanhGrad(y=g, dy=dc * i),
                        tf.raw_ops.SigmoidGrad(y=o, dy=dh * tanh_c)], axis=axis)
        dc = dc * f
        dh = tf.matmul(recurrent, dz) if feature_major else tf.matmul(dz, recurrent)
        dz_steps[t] = dz
    return tf.stack(dz_steps, axis=1 if feature_major else 0), dh, dc


def _chunk_products(dz, rows, h_before, kernel, kernel_t, units: int, feature_major: bool):
    """One chunk's shares of (dW, dU, db, dx) from its dz, each product in its fastest form (above):
    feature-major, dz [4U, n*b] gives dW^T, dU^T and dx^T; row-major, dz [n*b, 4U] gives them as
    they are."""
    if feature_major:
        dz = tf.reshape(dz, [4 * units, -1])
        return (tf.matmul(dz, rows), tf.matmul(dz, h_before), tf.reduce_sum(dz, axis=1),
                tf.matmul(kernel, dz))
    dz = tf.reshape(dz, [-1, 4 * units])
    return (tf.matmul(rows, dz, transpose_a=True), tf.matmul(h_before, dz, transpose_a=True),
            tf.reduce_sum(dz, axis=0), tf.matmul(dz, kernel_t))


def _caller_layout(products, width, batch, feature_major: bool):
    """(dx [b, T, D], dW, dU, db) summed over the chunks' `products`, in the caller's layout."""
    d_kernel = tf.add_n([p[0] for p in products])
    d_recurrent = tf.add_n([p[1] for p in products])
    d_bias = tf.add_n([p[2] for p in products])
    d_x = [p[3] for p in products][::-1]
    if feature_major:  # dx^T [D, T*b], dW^T
        d_x = tf.transpose(tf.reshape(tf.concat(d_x, axis=1), [width, -1, batch]), [2, 1, 0])
        return d_x, tf.transpose(d_kernel), tf.transpose(d_recurrent), d_bias
    # dx [T*b, D], time-major
    d_x = tf.transpose(tf.reshape(tf.concat(d_x, axis=0), [-1, batch, width]), [1, 0, 2])
    return d_x, d_kernel, d_recurrent, d_bias


def _lstm_chunked(x, h0, c0, kernel, recurrent_kernel, bias, chunk_sizes, feature_major: bool):
    def to_layout(a, perm):  # a chunk or state of the row-major caller into the recurrence's layout
        return tf.transpose(a, perm) if feature_major else a

    @tf.custom_gradient
    def run(x, h0, c0, kernel, recurrent_kernel, bias):
        batch = x.shape[0] or tf.shape(x)[0]
        units, width = h0.shape[-1], x.shape[-1]
        # Weights in the layouts the products run fastest with (see above): one copy per call.
        kernel_t, recurrent_kernel_t = tf.transpose(kernel), tf.transpose(recurrent_kernel)
        forward_recurrent, backward_recurrent = ((recurrent_kernel_t, recurrent_kernel)
                                                 if feature_major
                                                 else (recurrent_kernel, recurrent_kernel_t))
        # Time-major chunks [n, b, D]: per-step slices are then contiguous, which TensorFlow hands
        # out without copying (a strided unstack was not free).
        x_chunks = tf.split(tf.transpose(x, [1, 0, 2]), chunk_sizes, axis=0)
        h_rows, h, c = h0, to_layout(h0, [1, 0]), to_layout(c0, [1, 0])
        # per chunk: (x rows [n*b, D], h rows before it [b, U], c before it, h rows after each
        # step [n, b, U], c after each step, gates; the last three in the recurrence's layout)
        saved = []
        for n, xc in zip(chunk_sizes, x_chunks):
            rows = tf.reshape(xc, [-1, width])
            projected = tf.nn.bias_add(tf.matmul(rows, kernel_t, transpose_b=True), bias)
            projected = to_layout(tf.reshape(projected, [n, batch, 4 * units]), [0, 2, 1])
            h_after, c_after, gates = _forward_chunk(projected, h, c, forward_recurrent,
                                                     feature_major)
            h_after_rows = to_layout(h_after, [0, 2, 1])
            saved.append((rows, h_rows, c, h_after_rows, c_after, gates))
            h_rows, h, c = h_after_rows[-1], h_after[-1], c_after[-1]

        def grad(d_out, d_h_last, d_c_last):
            d_h_chunks = tf.split(tf.transpose(d_out, [1, 2, 0] if feature_major else [1, 0, 2]),
                                  chunk_sizes, axis=0)
            dh = tf.zeros_like(h) if d_h_last is None else to_layout(d_h_last, [1, 0])
            dc = tf.zeros_like(c) if d_c_last is None else to_layout(d_c_last, [1, 0])
            products = []  # per chunk, last first: its shares of dW, dU, db and dx
            # The products of chunk k depend only on its dz, so they run beside the recurrence of
            # chunk k-1.
            chunks = reversed(list(zip(chunk_sizes, saved, d_h_chunks)))
            for n, (rows, h_in, c_in, h_after, c_after, gates), d_h in chunks:
                dz, dh, dc = _backward_chunk(gates, c_after, c_in, d_h, dh, dc, backward_recurrent,
                                             feature_major)
                h_before = tf.reshape(tf.concat([h_in[None], h_after[:-1]], axis=0), [-1, units])
                products.append(_chunk_products(dz, rows, h_before, kernel, kernel_t, units,
                                                feature_major))
            d_x, d_kernel, d_recurrent, d_bias = _caller_layout(products, width, batch,
                                                                feature_major)
            return d_x, to_layout(dh, [1, 0]), to_layout(dc, [1, 0]), d_kernel, d_recurrent, d_bias

        h_outputs = tf.concat([chunk[3] for chunk in saved], axis=0)
        return (tf.transpose(h_outputs, [1, 0, 2]), h_rows, to_layout(c, [1, 0])), grad

    return run(x, h0, c0, kernel, recurrent_kernel, bias)


@keras.saving.register_keras_serializable(package="charkeras")
class FusedLSTM(keras.layers.LSTM):
    """keras.layers.LSTM with `lstm_sequence` as its time loop.

    Variables (`<name>/lstm_cell/kernel`, `recurrent_kernel`, `bias`, and the stateful carry), their
    layout and initialisers are keras.layers.LSTM's own, so checkpoints move freely between the
    two layers. Configurations the fused kernel does not cover (masks, cell dropout, other
    activations, no bias, go_backwards, a dynamic sequence length) run Keras's generic loop.
    `batch_groups=None` picks `default_batch_groups(batch size)` when the layer is called;
    `layout="auto"` times both layouts of the recurrence then (`resolve_layout`) and keeps the
    faster one for the layer.
    """

    def __init__(self, units, chunk_steps: int = CHUNK_STEPS, batch_groups: int | None = None,
                 layout: str = "auto", **kwargs):
        if chunk_steps < 1:
            raise ValueError(f"chunk_steps must be >= 1 (got {chunk_steps})")
        if batch_groups is not None and batch_groups < 1:
            raise ValueError(f"batch_groups must be >= 1 or None (got {batch_groups})")
        if layout not in ("auto", *LAYOUTS):
            raise ValueError(f"layout must be auto, {' or '.join(LAYOUTS)} (got {layout!r})")
        super().__init__(units, use_cudnn=False, **kwargs)
        self.chunk_steps = chunk_steps
        self.batch_groups = batch_groups
        self.layout = layout

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
        # Chosen once: the training and validation graphs of a layer run the same arithmetic.
        self.layout = resolve_layout(self.layout, sequences.shape[0] or 1, self.units, groups)
        outputs, h, c = lstm_sequence(
            sequences, initial_state[0], initial_state[1],
            tf.cast(cell.kernel, dtype), tf.cast(cell.recurrent_kernel, dtype),
            tf.cast(cell.bias, dtype),
            chunk_steps=self.chunk_steps, batch_groups=groups, layout=self.layout)
        return h, outputs, [h, c]

    def get_config(self):
        return {**super().get_config(), "chunk_steps": self.chunk_steps,
                "batch_groups": self.batch_groups, "layout": self.layout}
