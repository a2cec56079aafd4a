"""The stream layout of stateful training: B contiguous streams cut into T-character windows.

The ids are split into B streams of equal length L (the ragged tail is dropped). Batch k, row j
holds stream j, characters [k*T, (k+1)*T); its target is the same window shifted by one character.
Row j of batch k+1 therefore continues row j of batch k, which is what makes the LSTM state carried
across batches meaningful. Nothing is shuffled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from charkeras.errors import CorpusError


@dataclass(frozen=True)
class StreamLayout:
    batch_size: int
    seq_len: int
    stream_len: int  # L: characters per stream that are used as inputs
    batches: int  # K: batches per pass over the data

    @classmethod
    def for_length(cls, n_ids: int, batch_size: int, seq_len: int, what: str = "training text",
                   hint: str = "") -> StreamLayout:
        """The layout of `n_ids` ids; a text shorter than one batch is a CorpusError that says what
        to pass (`hint` adds another way out, e.g. "or raise --val-frac")."""
        stream_len = (n_ids - 1) // batch_size  # one extra id is needed for the last target
        batches = stream_len // seq_len
        if batches < 1:
            raise CorpusError(
                f"the {what} ({n_ids:,} chars) is shorter than one batch of --batch-size "
                f"{batch_size} x --seq-len {seq_len} ({batch_size * seq_len + 1:,} chars with the "
                f"last target); {_largest_workable(n_ids, batch_size, seq_len)}{hint}"
            )
        return cls(batch_size, seq_len, stream_len, batches)


def validation_seq_len(n_ids: int, batch_size: int, seq_len: int) -> int:
    """The window validation reads `n_ids` held-out ids in, with the training's `batch_size`
    streams: `seq_len`, or shorter when the held-out text is too short for 2 batches of it (the
    longest window that gives 2, else 1). The streams carry the model's state from window to
    window, so a shorter window scores the same characters in the same context: it only cuts the
    same streams into more calls. This lets a small corpus train at the batch size that runs
    fastest instead of the one its held-out 10% can fill. Too short even for 1 x 1: `seq_len`,
    whose layout then raises the usual CorpusError."""
    stream_len = (n_ids - 1) // batch_size
    if stream_len < 1:
        return seq_len
    return max(1, min(seq_len, stream_len // 2 or stream_len))


def _largest_workable(n_ids: int, batch_size: int, seq_len: int) -> str:
    """What to pass instead: only sizes >= 1 are ever suggested."""
    usable = n_ids - 1
    if usable < 1:
        return "it needs at least 2 characters (one input and its target): use a longer text"
    options = []
    if usable // seq_len >= 1:
        options.append(f"--batch-size {usable // seq_len} at --seq-len {seq_len}")
    if usable // batch_size >= 1:
        options.append(f"--seq-len {usable // batch_size} at --batch-size {batch_size}")
    if not options:  # both are too large on their own
        t = max(1, min(seq_len, math.isqrt(usable)))
        options.append(f"--batch-size {usable // t} --seq-len {t}")
    return "the largest workable is " + ", or ".join(options)


def batch_windows(ids: np.ndarray, layout: StreamLayout, k: int, rows: slice = slice(None)):
    """Batch k as (inputs, targets) [B, T] in the ids' own (small) dtype, read straight from `ids`.

    Row j is stream j's characters [k*T, (k+1)*T) (stream j starts at id j*L), the targets the same
    window one character later. `rows` picks a block of streams (a replica's share). Only these
    B x (T + 1) ids are read, so `ids` may be a memory-mapped cache of any size.
    """
    t = layout.seq_len
    starts = np.arange(layout.batch_size)[rows] * layout.stream_len + k * t
    window = np.asarray(ids[starts[:, None] + np.arange(t + 1)])
    return window[:, :-1], window[:, 1:]


def stream_windows(ids: np.ndarray, layout: StreamLayout) -> tuple[np.ndarray, np.ndarray]:
    """Every batch's inputs and targets as arrays of shape (K, B, T): the whole layout in memory,
    for tests and small texts; training reads batch by batch (`batch_windows`)."""
    pairs = [batch_windows(ids, layout, k) for k in range(layout.batches)]
    return np.stack([x for x, _ in pairs]), np.stack([y for _, y in pairs])
