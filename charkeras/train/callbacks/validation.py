"""Validation during training, from a zero state, never leaking its state into training."""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf

from charkeras.model.carried_state import get_states, reset_states, set_states
from charkeras.probability import bits
from charkeras.train.callbacks.progress import TrainingProgress, current_step


class Validation(keras.callbacks.Callback):
    """Validates at every epoch end and, between them, on the run's cadence (`progress.validations`:
    every `val_every` steps, else by the clock); adds the loss units to the epoch logs. Each pass is
    timed into `progress.work` ("validation")."""

    def __init__(self, progress: TrainingProgress, val_ds):
        super().__init__()
        self.progress, self.val_ds = progress, val_ds
        self._eval_fn = None

    def on_train_begin(self, logs=None):
        self.progress.validations.start()

    def on_train_batch_end(self, batch, logs=None):
        step = self.progress.step
        if self.progress.validations.due(step, self.progress.layout.batches):
            loss = self.validate()
            if self.progress.verbose and not getattr(self.progress, "quiet_validations", False):
                print(f"\nstep {step}: val loss {loss:.4f} nats/char ({bits(loss):.4f} bpc)")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        loss = self.validate()
        logs["val_loss"], logs["val_bpc"] = loss, bits(loss)
        if "loss" in logs:
            logs["bpc"] = bits(logs["loss"])
        logs["lr"] = float(np.asarray(self.model.optimizer.learning_rate))
        # A plain log shows validations in its periodic line (charkeras/train/callbacks/console.py).
        if self.progress.verbose and not getattr(self.progress, "quiet_validations", False):
            print(f"\nepoch {epoch + 1}: val loss {loss:.4f} nats/char ({logs['val_bpc']:.4f} bpc)")

    def validate(self) -> float:
        """Mean validation loss (nats/char) from a zero state; the training states are put back
        after."""
        progress = self.progress
        began = time.monotonic()
        progress.stashed_states = get_states(self.model)
        try:
            reset_states(self.model)
            total, count = self.loss_sum()
        finally:
            set_states(self.model, progress.stashed_states)
            progress.stashed_states = None
        progress.last_val_loss = total / count
        progress.last_val_step = current_step(self.model)
        spent = time.monotonic() - began
        progress.work.record("validation", spent)
        progress.validations.done(spent)
        return progress.last_val_loss

    def loss_sum(self) -> tuple[float, int]:
        """(summed loss, characters) over the validation batches, from the model's current states
        (charkeras/train/distributed/loop.py's DistributedValidation runs it on every replica)."""
        if self._eval_fn is None:
            model = self.model

            @tf.function
            def eval_fn(x, y):
                logits = model(x, training=False)
                losses = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
                return tf.reduce_sum(losses), tf.size(losses)

            self._eval_fn = eval_fn
        total, count = 0.0, 0
        for x, y in self.val_ds:
            s, n = self._eval_fn(x, y)
            total, count = total + float(s), count + int(n)
        return total, count
