"""The input of data-parallel training: each replica reads its own block of streams, in the stream
layout.

The layout is the one of charkeras/data/streams.py with the global batch size B: global row j of
batch k+1 continues row j of batch k. With R replicas of b = B/R streams each, replica r owns the
contiguous rows [r*b, (r+1)*b) of every batch, so the carried state of a replica always belongs to
the same streams. Across W workers (R/W replicas each, in the order of the global replica ids),
worker w owns the contiguous block of its replicas' rows and reads only those.

Sharding is explicit, through tf.distribute's InputContext: `distribute_datasets_from_function`
calls `dataset_fn` once per worker and hands consecutive elements of its dataset to the worker's
replicas in turn (replica 0, 1, ... then again 0), so the dataset yields, for each batch k, one
element per local replica. Auto-sharding would deal whole batches round-robin to the workers and
break the streams; this never uses it.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from charkeras.data.pipeline import layout_dataset
from charkeras.data.streams import StreamLayout


def replica_rows(replica: int, per_replica: int) -> slice:
    """The global rows (streams) of one replica."""
    return slice(replica * per_replica, (replica + 1) * per_replica)


def local_replicas(input_context: tf.distribute.InputContext) -> range:
    """The global ids of the replicas fed by this input pipeline (one pipeline per worker)."""
    per_worker = input_context.num_replicas_in_sync // input_context.num_input_pipelines
    first = input_context.input_pipeline_id * per_worker
    return range(first, first + per_worker)


def replica_dataset(ids: np.ndarray, layout: StreamLayout,
                    input_context: tf.distribute.InputContext,
                    skip: int = 0, take: int = -1) -> tf.data.Dataset:
    """This worker's share of batches [skip, skip + take): per batch, one (x, y) [b, T] per local
    replica."""
    replicas = local_replicas(input_context)
    b = input_context.get_per_replica_batch_size(layout.batch_size)
    if b * input_context.num_replicas_in_sync != layout.batch_size:
        raise ValueError(f"batch size {layout.batch_size} is not divisible by "
                         f"{input_context.num_replicas_in_sync} replicas")
    # The local replicas' streams are contiguous: one read of the worker's block per batch.
    rows = slice(replicas.start * b, replicas.stop * b)
    ds = layout_dataset(ids, layout, rows).skip(skip).take(take)
    per_replica = [len(replicas), b, layout.seq_len]
    return ds.map(lambda x, y: (tf.reshape(x, per_replica), tf.reshape(y, per_replica))).unbatch()


def distributed_batches(strategy, ids: np.ndarray, layout: StreamLayout, skip: int = 0,
                        take: int = -1):
    """Batches [skip, skip + take) of `layout` as a tf.distribute dataset: replica r gets rows [r*b,
    (r+1)*b).

    It repeats endlessly: the caller reads exactly the batches it asked for. (A finite dataset makes
    every `next` of a multi-worker iterator an eager all-reduce that asks whether any worker still
    has data, one more collective per step; the step counts here are known in advance.)
    """

    def dataset_fn(input_context):
        return replica_dataset(ids, layout, input_context, skip, take).repeat()

    options = tf.distribute.InputOptions(
        experimental_replication_mode=tf.distribute.InputReplicationMode.PER_WORKER)
    return strategy.distribute_datasets_from_function(dataset_fn, options)
