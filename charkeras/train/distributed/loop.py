"""Data-parallel training on R replicas (MirroredStrategy, MultiWorkerMirroredStrategy): the custom
loop.

`model.fit` trains with one device (`driver.fit`). Under MultiWorkerMirroredStrategy it
is broken in Keras 3.15 (keras-team/keras#20585), and under any strategy Keras clips each replica's
partial gradient before summing them, which is not the one-device mathematics. This loop runs
`strategy.run` on the same model and optimizer and drives the same callbacks in the order
`model.fit` calls them (reset the loss mean, on_epoch_begin, on_train_batch_begin/end per step,
on_epoch_end, ...), so validation, samples, checkpoints, logs and the report behave as they do on
one device.

The same mathematics as one device with the global batch B (dropout 0; dropout draws per-replica
masks, `model.replica_dropout`):
  - replica r reads global streams [r*b, (r+1)*b), b = B/R, and carries their state
    (`data.replica_input`, `model.replica_states`);
  - each replica's loss is its summed cross-entropy divided by the GLOBAL B*T characters, so the sum
    of the replicas' losses (and gradients) is the one-device mean;
  - the gradients are summed over replicas (all-reduce) and then clipped per variable with
    --clipnorm as Keras clips on one device (the embedding's sparse gradient by the norm of its
    rows, like tf.clip_by_norm on IndexedSlices); the optimizer then applies the same update on
    every replica (its own all-reduce and clipping are switched off: they would sum twice and clip
    partial gradients).

Multi-worker: every worker runs this loop and all the callbacks in lockstep (the state gathers
inside checkpoints and validation are collectives); only the chief's run directory is kept
(`strategy.Job.worker_out`). A stop decided on one worker (a callback setting stop_training)
is agreed on by all before the next step. A worker that dies makes the collectives fail on the
others: they stop with WorkerLost, and `fit --resume` continues from the last checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from charkeras.data.replica_input import distributed_batches
from charkeras.errors import WorkersDisagree
from charkeras.train import kill_points
from charkeras.train.callbacks.progress import current_step
from charkeras.train.callbacks.safe_point import SafePoint
from charkeras.train.callbacks.validation import Validation
from charkeras.train.distributed.strategy import PEER_ERRORS, Job
from charkeras.train.interrupts import Interrupted, current_session, stop_requested
from charkeras.train.run.names import CHECKPOINTS_DIR

SUM = tf.distribute.ReduceOp.SUM


class DistributedValidation(Validation):
    """Validation on every replica: replica r validates global streams [r*b, (r+1)*b) of the
    held-out layout from a zero state; the loss is the global sum over the global count, as on one
    device."""

    def __init__(self, progress, strategy, val_ids, val_layout, val_batches: int = 0):
        super().__init__(progress, val_ds=None)
        self.strategy = strategy
        self.batches = min(val_layout.batches, val_batches or val_layout.batches)
        self.inputs = distributed_batches(strategy, val_ids, val_layout, 0, self.batches)

    def loss_sum(self) -> tuple[float, int]:
        if self._eval_fn is None:
            model, strategy = self.model, self.strategy

            def replica_fn(x, y):
                losses = tf.nn.sparse_softmax_cross_entropy_with_logits(y, model(x, training=False))
                context = tf.distribute.get_replica_context()
                return context.all_reduce(
                    SUM, [tf.reduce_sum(losses), tf.cast(tf.size(losses), tf.float32)])

            self._eval_fn = tf.function(lambda batch: strategy.run(replica_fn, args=batch))
        total, count = 0.0, 0
        batches = iter(self.inputs)
        for _ in range(self.batches):
            s, n = (self.strategy.experimental_local_results(v)[0]
                    for v in self._eval_fn(next(batches)))
            total, count = total + float(s), count + int(n)
        return total, count


def make_train_step(model, strategy, global_chars: int):
    """A tf.function running one optimizer step on every replica; returns the global mean loss."""
    optimizer = model.optimizer
    if optimizer.global_clipnorm or optimizer.clipvalue:
        raise ValueError("the distributed loop clips like Keras's clipnorm only")
    # The step sums and clips the gradients itself (see the module docstring).
    clipnorm = optimizer.clipnorm
    optimizer._all_reduce_sum_gradients = lambda grads_and_vars: list(grads_and_vars)
    optimizer.clipnorm = None
    variables = model.trainable_variables

    def replica_step(x, y):
        context = tf.distribute.get_replica_context()
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = tf.reduce_sum(
                tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)) / global_chars
        grads = summed_gradients(context, tape.gradient(loss, variables), clipnorm)
        optimizer.apply(grads, variables)
        return context.all_reduce(SUM, loss)

    @tf.function
    def train_step(batch):
        return strategy.run(replica_step, args=batch)

    return train_step


def summed_gradients(context, grads, clipnorm: float | None) -> list:
    """The gradients summed over all replicas, each clipped to `clipnorm` as Keras clips on one
    device.

    A sparse gradient (the embedding's IndexedSlices) stays sparse: its all-reduce concatenates the
    replicas' rows in replica order, which is the one-device gradient's row order, so its clipping
    norm and the optimizer's sparse update are the one-device ones.
    """
    reduced = context.all_reduce(SUM, list(grads))
    if not clipnorm:
        return reduced
    return [tf.clip_by_norm(g, clipnorm) for g in reduced]


def fit_distributed(model, job: Job, ids, layout, segments, callbacks, *,
                    verbose: int = 0) -> dict[str, list]:
    """Train the steps of `segments` (`planning.fit_segments`) as `model.fit` would, one fit call
    per segment, with the callbacks `fit` gives `model.fit`; returns the merged history."""
    strategy = job.strategy
    train_step = make_train_step(model, strategy, layout.batch_size * layout.seq_len)
    use_local_loss_tracker(model)
    lockstep = _Lockstep(job, callbacks) if job.multi_worker else None
    if lockstep is not None:
        callbacks = lockstep.callbacks
        lockstep.check_same_start(model)
    history: dict[str, list] = {}
    try:
        for part in segments:
            _fit_segment(model, strategy, ids, layout, part, callbacks, train_step, lockstep,
                         verbose, history)
            if model.stop_training:
                break
        if lockstep is not None:
            lockstep.finish()
    except PEER_ERRORS as exc:
        if lockstep is None:
            raise
        raise job.worker_lost(exc, f"; the job stops at step {_step_or_unknown(model)}") from None
    return history


def use_local_loss_tracker(model) -> None:
    """Give the model a loss tracker (the running mean `model.fit` logs as "loss") outside the
    strategy.

    `compile` under a strategy makes its variables sync-on-read: every update or read from the loop
    (cross-replica context) would then be an eager all-reduce across the replicas and workers. The
    loop adds the global loss itself, so plain variables hold the same running mean, with the same
    names (checkpoints save and restore them as `model.metrics_variables`)."""
    first = model._loss_tracker.variables[0]
    if not isinstance(getattr(first, "value", first), tf.distribute.DistributedValues):
        return
    tracker = keras.metrics.Mean(name=model._loss_tracker.name)
    # not Keras's attribute tracking: it replaces, not adds
    object.__setattr__(model, "_loss_tracker", tracker)


def _fit_segment(model, strategy, ids, layout, part, callbacks, train_step, lockstep, verbose,
                 history):
    """What one `model.fit(data, initial_epoch=first, epochs=end)` call does, on the replicas."""
    model.stop_training = False
    record = keras.callbacks.History()
    callback_list = keras.callbacks.CallbackList(
        [*callbacks, record], add_history=False, add_progbar=verbose != 0, verbose=verbose,
        epochs=part.end_epoch, steps=part.take, model=model)
    data = distributed_batches(strategy, ids, layout, part.skip, part.take)
    tracker = model._loss_tracker  # the running mean `model.fit` logs as "loss"
    global_batch = layout.batch_size
    callback_list.on_train_begin()
    logs: dict = {}
    for epoch in range(part.first_epoch, part.end_epoch):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        batches = iter(data)
        for batch in range(part.take):
            callback_list.on_train_batch_begin(batch)
            loss = strategy.experimental_local_results(train_step(next(batches)))[0]
            tracker.update_state(loss, sample_weight=global_batch)
            logs = {"loss": float(tracker.result())}
            callback_list.on_train_batch_end(batch, logs)
            # the epoch's last step completes at its end
            if lockstep is not None and batch + 1 < part.take:
                lockstep.step_complete(model)
            if model.stop_training:
                break
        logs = dict(logs)
        callback_list.on_epoch_end(epoch, logs)
        if lockstep is not None:
            lockstep.step_complete(model)
        if model.stop_training:
            break
    callback_list.on_train_end(logs=logs)
    for key, values in record.history.items():
        history.setdefault(key, []).extend(values)


class _Lockstep:
    """Multi-worker: the decisions every worker must take together, or their collectives stop
    matching.

    - Where the run starts: every worker resumed from the same step with the same best loss, or none
      runs.
    - Where it stops: at the end of each step's work (`callbacks.safe_point.SafePoint`), the workers
      agree on a stop a callback asked for (early stopping) and on a Ctrl-C/SIGTERM any of them
      received; then each writes the interruption checkpoint (the chief's is kept) and stops. The
      safe point's own check reads this process's signal alone, so it is done here instead.
    """

    def __init__(self, job: Job, callbacks):
        strategy = self.strategy = job.strategy
        self.chief, self.run_path = job.chief, job.run_path
        session = current_session()
        # what an interruption tells to do: the job's run
        if session is not None and not self.chief:
            session.run_path = job.run_path
        self.safe_points = [c for c in callbacks if isinstance(c, SafePoint)]
        self.callbacks = [c for c in callbacks if not isinstance(c, SafePoint)]
        self.progress = next((c.progress for c in callbacks if hasattr(c, "progress")), None)

        def replica_fn(values):
            return tf.distribute.get_replica_context().all_gather(values[None], axis=0)

        gather = tf.function(lambda values: strategy.run(replica_fn, args=(values,)))
        # every replica's values, one row each (ReduceOp has no MAX)
        self._gather = lambda values: strategy.experimental_local_results(
            gather(tf.constant(values, tf.float64)))[0].numpy()

    def check_same_start(self, model) -> None:
        best = self.progress.best_val_loss if self.progress is not None else 0.0
        rows = self._gather([float(current_step(model)), float(min(best, 1e300))])
        if (rows != rows[0]).any():
            raise WorkersDisagree("the workers do not resume from the same point (steps "
                                  f"{rows[:, 0].min():.0f} to {rows[:, 0].max():.0f}): every "
                                  f"worker must read the same run directory {self.run_path}")

    def finish(self) -> None:
        """Every worker has done its last step's work (the chief, which hosts TensorFlow's
        coordination service, must not exit while another worker still trains: that worker would
        stall)."""
        self._gather([0.0])

    def step_complete(self, model) -> None:
        step = current_step(model)
        kill_points.reached("step", step)
        stop, signum = self._gather([float(bool(model.stop_training)),
                                     float(stop_requested() or 0)]).max(axis=0)
        model.stop_training = bool(stop)
        if signum and self.safe_points and step < self.safe_points[0].total_steps:
            path = self.safe_points[0].checkpointer.save(reason="interrupted")
            session = current_session()
            if session is not None:  # the chief wrote the job's checkpoint of this step
                chief_path = self.run_path / CHECKPOINTS_DIR / Path(path).name
                session.saved = path if self.chief else chief_path
            raise Interrupted(int(signum), together=True)


def _step_or_unknown(model) -> str:
    try:
        return str(current_step(model))
    except Exception:  # noqa: BLE001 - the runtime may be unusable after a failed collective
        return "unknown"
