"""Carried LSTM states of a model trained on several replicas, in global stream order.

Under MirroredStrategy / MultiWorkerMirroredStrategy the model is built with the per-replica batch
b = B/R, and each state variable is a mirrored variable with one copy per replica: replica r's copy
holds the state of global streams [r*b, (r+1)*b) (charkeras/data/replica_input.py). `gather` returns
every replica's copy concatenated in replica order ([B, units], exactly what a one-device model of
batch B holds), across workers too (an all-gather, so every worker must call it at the same point);
`scatter` gives each replica its rows of such arrays. Checkpoints therefore store states in global
stream order, whatever the replica count, and a run resumes on any R that divides B.
"""

from __future__ import annotations

import weakref

import numpy as np
import tensorflow as tf

_functions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _tf_variable(variable):
    return getattr(variable, "value", variable)


def is_distributed(variables) -> bool:
    return bool(variables) and isinstance(_tf_variable(variables[0]),
                                          tf.distribute.DistributedValues)


def _strategy(variables):
    return _tf_variable(variables[0]).distribute_strategy


def _compiled(owner, variables):
    """(gather, scatter) tf.functions over `variables`, made once per owner (the model)."""
    if owner in _functions:
        return _functions[owner]
    strategy = _strategy(variables)
    tf_vars = [_tf_variable(v) for v in variables]

    @tf.function
    def gather():
        def replica_fn():
            context = tf.distribute.get_replica_context()
            return [context.all_gather(tf.identity(v), axis=0) for v in tf_vars]

        return strategy.run(replica_fn)

    @tf.function
    def scatter(arrays):
        def replica_fn(arrays):
            replica = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group,
                              tf.int32)
            for v, full in zip(tf_vars, arrays):
                rows = v.shape[0]
                v.assign(tf.ensure_shape(full[replica * rows:(replica + 1) * rows], v.shape))

        strategy.run(replica_fn, args=(arrays,))

    _functions[owner] = (gather, scatter)
    return gather, scatter


def gather(owner, variables) -> list[np.ndarray]:
    """Every replica's copy of each variable, concatenated in replica order (global stream
    order)."""
    strategy = _strategy(variables)
    gathered = _compiled(owner, variables)[0]()
    return [np.asarray(strategy.experimental_local_results(g)[0]) for g in gathered]


def scatter(owner, variables, arrays: list[np.ndarray]) -> None:
    """Give replica r rows [r*b, (r+1)*b) of each global array (b: the variable's own batch)."""
    replicas = _strategy(variables).num_replicas_in_sync
    for v, a in zip(variables, arrays):
        if a.shape[0] != v.shape[0] * replicas or tuple(a.shape[1:]) != tuple(v.shape[1:]):
            raise ValueError(
                f"state of shape {a.shape} does not fit {replicas} replicas of {tuple(v.shape)}")
    _compiled(owner, variables)[1]([tf.constant(a, dtype=_tf_variable(v).dtype) for v,
                                    a in zip(variables, arrays)])
