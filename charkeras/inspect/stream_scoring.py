"""Scoring a long text fast: B contiguous streams side by side, each with a warm-up, like training.

The exact score (CharModel.score) runs the whole text through one state, one character at a time:
every step is a [1 x units] product, which leaves the CPU idle. Here the scored characters are split
into B contiguous segments scored in parallel, so each step multiplies [B x units] at once.

Exactness: segment j's first characters should be conditioned on everything before them. Stream j
therefore starts `warmup` characters before its segment, from the zero state, and the losses of
those warm-up characters are not counted (segment 0 starts at the text's start, exactly like
`score`). An LSTM's state forgets its distant past, so after a warm-up of a few hundred characters
the state is the exact one up to float rounding; tests/test_stream_scoring.py checks that the total
equals `score` to 1e-4 relative, and `charkeras evaluate --exact` scores the slow, exact way.
No TensorFlow: a runtime with a graph provides `score_chunk` (charkeras/runtime/chunk_scoring.py);
the others are stepped from numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charkeras.probability import log_softmax

DEFAULT_STREAMS = 64
DEFAULT_WARMUP = 200
CHUNK = 100  # steps per call of the runtime (and per progress update)


@dataclass(frozen=True)
class StreamPlan:
    starts: np.ndarray  # [B] the first input position of each stream (its warm-up included)
    first_target: np.ndarray  # [B] the first position whose loss counts
    end_target: np.ndarray  # [B] one past the last position whose loss counts
    steps: int  # the longest stream

    @property
    def streams(self) -> int:
        return len(self.starts)

    @property
    def scored(self) -> int:
        return int((self.end_target - self.first_target).sum())


def plan_streams(n_ids: int, streams: int = DEFAULT_STREAMS,
                 warmup: int = DEFAULT_WARMUP) -> StreamPlan:
    """Targets 1..n-1 split into at most `streams` contiguous segments of at least 2 x warmup
    each."""
    targets = max(n_ids - 1, 0)
    b = max(1, min(streams, targets // max(2 * warmup, 1) if warmup else streams, max(targets, 1)))
    bounds = 1 + (targets * np.arange(b + 1)) // b
    first, end = bounds[:-1], bounds[1:]
    starts = np.maximum(first - 1 - warmup, 0)
    steps = int((end - 1 - starts).max()) if targets else 0
    return StreamPlan(starts, first, end, steps)


def stream_arrays(ids: np.ndarray, plan: StreamPlan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs, targets [B, steps] int32 and the mask of counted losses [B, steps] float32."""
    ids = np.asarray(ids, np.int32)
    positions = plan.starts[:, None] + np.arange(plan.steps)[None, :]  # input positions
    target_pos = positions + 1
    mask = (target_pos >= plan.first_target[:, None]) & (target_pos < plan.end_target[:, None])
    valid = target_pos < plan.end_target[:, None]
    x = np.where(valid, ids[np.minimum(positions, len(ids) - 1)], 0).astype(np.int32)
    y = np.where(valid, ids[np.minimum(target_pos, len(ids) - 1)], 0).astype(np.int32)
    return x, y, mask.astype(np.float32)


def score_streams(model, ids: np.ndarray, *, streams: int = DEFAULT_STREAMS,
                  warmup: int = DEFAULT_WARMUP,
                  chunk: int = CHUNK, progress=None) -> tuple[float, int]:
    """(sum of -ln p(c_i | c_<i) over i = 1..n-1, n - 1) like `model.score`, computed in parallel
    streams.

    `progress(done_steps, total_steps)` is called after each chunk.
    """
    plan = plan_streams(len(ids), streams, warmup)
    if plan.steps == 0:
        return 0.0, 0
    x, y, mask = stream_arrays(ids, plan)
    state = model.zero_state(plan.streams)
    score_chunk = getattr(model, "score_chunk",
                          None) or (lambda *args: numpy_score_chunk(model, *args))
    total = 0.0
    for start in range(0, plan.steps, chunk):
        stop = min(start + chunk, plan.steps)
        nll, state = score_chunk(x[:, start:stop], y[:, start:stop], mask[:, start:stop], state)
        total += float(nll)
        if progress is not None:
            progress(stop, plan.steps)
    return total, plan.scored


def numpy_score_chunk(model, x, y, mask, state) -> tuple[float, np.ndarray]:
    """Any runtime's `step`, one column at a time (LiteRT); runtimes with a graph do the loop in
    it."""
    rows = np.arange(x.shape[0])
    total = 0.0
    for t in range(x.shape[1]):
        logits, state = model.step(x[:, t], state)
        log_probs = log_softmax(np.asarray(logits, np.float64))
        total -= float((log_probs[rows, y[:, t]] * mask[:, t]).sum())
    return total, state
