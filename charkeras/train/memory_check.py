"""Refuse, before anything is written, a model or batch too big for the machine's memory.

`fit --units 40000` used to write the run's files and then die in TensorFlow's allocator with a
traceback (ResourceExhaustedError; for bigger sizes a C++ abort), leaving a half-made run. The
estimate is deliberately low (weights, gradients, two optimizer moments and the main activations of
one step), so a refused configuration certainly does not fit; it is checked against host memory only
when training runs on the CPU.
"""

from __future__ import annotations

import tensorflow as tf

from charkeras.config import CharConfig
from charkeras.errors import require
from charkeras.machine import available_memory


def parameter_count(config: CharConfig) -> int:
    m = config.model
    lstm = sum(4 * m.units * ((m.embedding_dim if i == 0 else m.units) + m.units + 1)
               for i in range(m.layers))
    return m.vocab_size * m.embedding_dim + lstm + m.units * m.vocab_size + m.vocab_size


def training_bytes(config: CharConfig) -> int:
    """A lower estimate of the memory one training step needs."""
    m, d = config.model, config.data
    # float32 weights, gradients and two optimizer moments
    params = 16 * parameter_count(config)
    # per character of the batch: each layer's gates and states kept for the backward pass, the
    # logits with their softmax and gradient, the embedded input
    per_char = 4 * (m.layers * 7 * m.units + 3 * m.vocab_size + 2 * m.embedding_dim)
    return params + d.batch_size * d.seq_len * per_char


def check_training_memory(config: CharConfig, available: int | None = None) -> None:
    if available is None:
        if tf.config.list_physical_devices("GPU"):
            return  # the model lives in GPU memory, which this does not measure
        available = available_memory()
        if available is None:
            return
    need = training_bytes(config)
    m, d = config.model, config.data
    require(need <= available,
            f"this model needs at least {need / 1e9:.1f} GB of memory to train "
            f"({parameter_count(config):,} parameters: --layers {m.layers} x --units {m.units}, "
            f"--embedding-dim {m.embedding_dim}; --batch-size {d.batch_size} x --seq-len "
            f"{d.seq_len}), more than the {available / 1e9:.1f} GB available: choose smaller sizes")
