"""The tf.data input of stateful training, in the stream layout of charkeras/data/streams.py.

Batches are read from the ids on demand: `Dataset.range(K)` mapped to a read of batch k from the
(memory-mapped) id cache. Nothing corpus-sized is copied or embedded in the dataset graph (which
`from_tensor_slices` would do, hitting TensorFlow's 2 GB graph limit), and prefetching overlaps the
reads with training. Skipping to a resume position costs nothing: it skips numbers, not data.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from charkeras.data.streams import StreamLayout, batch_windows


def make_dataset(ids: np.ndarray, batch_size: int, seq_len: int, what: str = "training text"):
    """A finite tf.data.Dataset of K batches (x, y), int32 of shape (B, T), in stream order."""
    layout = StreamLayout.for_length(len(ids), batch_size, seq_len, what)
    return layout_dataset(ids, layout), layout


def layout_dataset(ids: np.ndarray, layout: StreamLayout, rows: slice = slice(None)):
    """The batches of `layout` (only the streams in `rows`), read from `ids` as they are needed."""
    shape = (len(range(layout.batch_size)[rows]), layout.seq_len)

    def read(k):
        x, y = batch_windows(ids, layout, int(k), rows)
        return x.astype(np.int32), y.astype(np.int32)

    def load(k):
        x, y = tf.numpy_function(read, [k], (tf.int32, tf.int32), stateful=False)
        return tf.ensure_shape(x, shape), tf.ensure_shape(y, shape)

    ds = tf.data.Dataset.range(layout.batches).map(load, num_parallel_calls=1, deterministic=True)
    return ds.prefetch(PREFETCH_BATCHES).with_options(_NO_AUTOTUNE)


# A read takes microseconds against a step's milliseconds: two batches ahead is enough, and a fixed
# buffer needs no autotuning. Autotuning's model thread is what an iterator waits for when it is
# deleted, and on a loaded machine it can sleep for up to 30 s more: the process's exit waited
# for it, past the end of a --time-budget.
PREFETCH_BATCHES = 2
_NO_AUTOTUNE = tf.data.Options()
_NO_AUTOTUNE.autotune.enabled = False
