"""Checkpoints during training: every `checkpoint_every` steps and at epoch ends; the best kept apart."""

from __future__ import annotations

import time

import keras

from charkeras.model.carried_state import get_states
from charkeras.train.callbacks.progress import TrainingProgress, current_step, every
from charkeras.train.checkpoints import CheckpointMeta, copy_as_best, prune_checkpoints, save_checkpoint


class Checkpointer(keras.callbacks.Callback):
    """Also keeps the training clock, which each checkpoint records."""

    def __init__(self, progress: TrainingProgress, seconds_before: float = 0.0):
        super().__init__()
        self.progress = progress
        self.seconds_before = seconds_before
        self.started = None

    def on_train_begin(self, logs=None):
        self.started = time.monotonic()

    def on_train_end(self, logs=None):
        # A resumed run calls fit twice (rest of the interrupted epoch, then the others): keep a sum.
        self.seconds_before = self.train_seconds()
        self.started = None

    def on_train_batch_end(self, batch, logs=None):
        if every(current_step(self.model), self.progress.config.train.checkpoint_every, self.progress):
            self.save(reason="periodic")

    def on_epoch_end(self, epoch, logs=None):
        self.save(reason="epoch")

    def train_seconds(self) -> float:
        running = time.monotonic() - self.started if self.started is not None else 0.0
        return self.seconds_before + running

    def save(self, reason: str):
        """Write a checkpoint at the current step; returns its path."""
        progress = self.progress
        step = current_step(self.model)
        states = progress.stashed_states if progress.stashed_states is not None else get_states(self.model)
        meta = CheckpointMeta(step=step, val_loss=progress.last_val_loss, train_seconds=self.train_seconds())
        path = progress.run.checkpoints / f"ckpt-{step:09d}"
        save_checkpoint(path, self.model, self.model.optimizer, states, meta, progress.config)
        if (reason == "epoch" and progress.last_val_loss is not None
                and progress.last_val_loss < progress.best_val_loss):
            progress.best_val_loss = progress.last_val_loss
            copy_as_best(path, progress.run)
        prune_checkpoints(progress.run, progress.config.train.keep_checkpoints)
        return path
