"""Which layout `FusedLSTM`'s recurrence runs in on this CPU, by timing both rather than assuming
one.

The per-step products of the recurrence can run feature-major (W^T @ h, W @ dz: states [U, rows]) or
row-major (h @ W, dz @ W^T: states [rows, U]). oneDNN's speed for the two differs by up to 3x, and
which way round depends on the instruction set and on the rows per recurrence (docs/performance.md,
"Product layouts"), so no fixed choice suits every CPU. `choose_lstm_layout` times a few of both
pairs of products at the shape the layer will run, with the thread settings training uses, and keeps
the answer for the process (22-61 ms at 256 units, 87-199 ms at 512, measured on a 2-core AMD EPYC).
`fit` records the answer in the run's config.json, so a resumed run keeps the layout, and with it
the float rounding its exact resume depends on.
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

_CHOSEN: dict[tuple[int, int], str] = {}
# Row-major must win by this much: where the two are close, the choice would otherwise follow the
# noise, and two runs of the same job on one machine (a run and a rerun compared bit for bit) could
# differ.
ROW_MAJOR_MARGIN = 0.9
# Below this many flops a product takes a few microseconds, which timing cannot tell apart from
# per-op
# overhead: such small layers keep feature-major without timing (256 units x 32 rows: 16.8 M).
MIN_TIMED_FLOPS = 2_000_000


def choose_lstm_layout(rows: int, units: int) -> str:
    """"feature", or "row" where it runs this CPU's pair of per-step products clearly faster (by
    1 - ROW_MAJOR_MARGIN) for `rows` batch rows per recurrence and `units`; timed once per process
    and shape."""
    key = (rows, units)
    if 2 * rows * units * 4 * units < MIN_TIMED_FLOPS:
        return "feature"
    if key not in _CHOSEN:
        with tf.init_scope():  # eagerly, also when first asked while a graph is traced
            _CHOSEN[key] = _faster_layout(rows, units)
    return _CHOSEN[key]


def _faster_layout(rows: int, units: int, products: int = 8, rounds: int = 5) -> str:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((units, 4 * units), dtype=np.float32) * 0.05
    h = rng.standard_normal((rows, units), dtype=np.float32)
    dz = rng.standard_normal((rows, 4 * units), dtype=np.float32)
    w, w_t, h, h_t, dz, dz_t = (tf.constant(a)
                                for a in (w, w.T.copy(), h, h.T.copy(), dz, dz.T.copy()))
    steps = {  # one forward and one backward product of each layout, as fused_lstm computes them
        "feature": lambda: (tf.matmul(w_t, h_t), tf.matmul(w, dz_t)),
        "row": lambda: (tf.matmul(h, w), tf.matmul(dz, w_t)),
    }
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(rounds):  # alternated, best of `rounds`: robust to a busy moment
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(products):
                outputs = step()
            outputs[1].numpy()
            best[name] = min(best[name], time.perf_counter() - start)
    return "row" if best["row"] < ROW_MAJOR_MARGIN * best["feature"] else "feature"
