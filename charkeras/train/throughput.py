"""Training speed on this machine, predicted for a model shape before it is built, so `fit` can size
the model to a time budget (`budget_sizing`).

A cost model fitted in the sizing study (tools/bench_sizing.py, one core of a 2-core AMD EPYC with
AVX-512): a step costs seq_len x (PER_LAYER x layers + PER_WEIGHT x batch x weights) seconds: a
fixed cost per time step and layer (small ops, the recurrence's latency) and the products,
proportional to the weights and the streams. It is scaled by a timing taken when `fit`
starts: the LSTM's main product (batch 64, 2 x 256 units) for about 0.2 s, against the same timing
on the study's machine, and by the cores TensorFlow may use.
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from charkeras.machine import cpu_cores
from charkeras.train.budget_sizing import parameter_count

PER_LAYER = 9.22e-5  # seconds per time step and LSTM layer
PER_WEIGHT = 8.69e-11  # seconds per time step, stream and weight
REFERENCE_PRODUCT = 6.5e-4  # seconds per `_product` on the study's machine (one core)
# Training speed on 2 cores over 1 (threads.configure_training_threads: one op per core).
TWO_CORE_SPEEDUP = 2.0
CALIBRATION_SECONDS = 0.2


def _product(x: tf.Tensor, w: tf.Tensor) -> tf.Tensor:
    return tf.matmul(x, w)


def time_product(seconds: float = CALIBRATION_SECONDS) -> float:
    """Seconds per product, the fastest of repeats over about `seconds` (the fastest: a timing
    interrupted by another process says nothing about the machine)."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((64, 512), dtype=np.float32))
    w = tf.constant(rng.standard_normal((512, 1024), dtype=np.float32))
    _product(x, w).numpy()  # the first op starts TensorFlow's runtime: not timed
    best, end = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < end:
        began = time.perf_counter()
        for _ in range(10):
            y = _product(x, w)
        y.numpy()
        best = min(best, (time.perf_counter() - began) / 10)
    return best


class MeasuredThroughput:
    """chars/s of a shape on this machine: the cost model, scaled by `time_product` (run once, on
    the first prediction) and the cores."""

    def __init__(self, product_seconds: float | None = None, cores: int | None = None):
        self.product_seconds = product_seconds
        self.cores = cores or cpu_cores()

    @property
    def speed(self) -> float:
        """This machine over the study's (one core of it): > 1 is faster."""
        if self.product_seconds is None:
            self.product_seconds = time_product()
        cores = TWO_CORE_SPEEDUP if self.cores >= 2 else 1.0
        return REFERENCE_PRODUCT / self.product_seconds * cores

    def chars_per_second(self, layers: int, units: int, embedding_dim: int, vocab: int,
                         batch_size: int, seq_len: int) -> float:
        weights = parameter_count(layers, units, embedding_dim, vocab)
        step = seq_len * (PER_LAYER * layers + PER_WEIGHT * batch_size * weights)
        return batch_size * seq_len / step * self.speed
