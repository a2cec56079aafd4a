"""The tf.data input of stateful training, in the stream layout of charkeras/data/streams.py."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from charkeras.data.streams import StreamLayout, stream_windows


def make_dataset(ids: np.ndarray, batch_size: int, seq_len: int, what: str = "training text"):
    """A finite tf.data.Dataset of K batches (x, y), int32 of shape (B, T), in stream order."""
    layout = StreamLayout.for_length(len(ids), batch_size, seq_len, what)
    x, y = stream_windows(ids, layout)
    # Windows stay in their uint8/uint16 storage dtype; the cast happens inside the pipeline.
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    ds = ds.map(lambda a, b: (tf.cast(a, tf.int32), tf.cast(b, tf.int32)), num_parallel_calls=1,
                deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE), layout
