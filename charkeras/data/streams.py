"""The stream layout of stateful training: B contiguous streams cut into T-character windows.

The ids are split into B streams of equal length L (the ragged tail is dropped). Batch k, row j holds
stream j, characters [k*T, (k+1)*T); its target is the same window shifted by one character. Row j of
batch k+1 therefore continues row j of batch k, which is what makes the LSTM state carried across
batches meaningful. Nothing is shuffled.
"""

from __future__ import annotations

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
    def for_length(cls, n_ids: int, batch_size: int, seq_len: int, what: str = "training text") -> StreamLayout:
        stream_len = (n_ids - 1) // batch_size  # one extra id is needed for the last target
        batches = stream_len // seq_len
        if batches < 1:
            raise CorpusError(
                f"the {what} ({n_ids} chars) is shorter than one batch: batch-size x seq-len + 1 = "
                f"{batch_size * seq_len + 1}; the largest workable is {_largest_workable(n_ids, batch_size, seq_len)}"
            )
        return cls(batch_size, seq_len, stream_len, batches)


def _largest_workable(n_ids: int, batch_size: int, seq_len: int) -> str:
    usable = max(n_ids - 1, 0)
    return (
        f"--batch-size {max(usable // seq_len, 0)} at --seq-len {seq_len}, "
        f"or --seq-len {max(usable // batch_size, 0)} at --batch-size {batch_size}"
    )


def stream_windows(ids: np.ndarray, layout: StreamLayout) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets as arrays of shape (K, B, T), in the ids' own (small) dtype."""
    b, t, k, length = layout.batch_size, layout.seq_len, layout.batches, layout.stream_len
    used = k * t

    def windows(offset: int) -> np.ndarray:
        streams = np.asarray(ids[offset:offset + b * length]).reshape(b, length)[:, :used]
        return np.ascontiguousarray(streams.reshape(b, k, t).transpose(1, 0, 2))

    return windows(0), windows(1)
