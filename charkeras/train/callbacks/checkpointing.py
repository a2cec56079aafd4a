"""Checkpoints during training: every `checkpoint_every` steps and at epoch ends; the best kept
apart.

`best` follows the lowest validation loss, from epoch ends and from `--val-every` validations alike.
Every checkpoint is written after everything logged for its step (the loggers run before this
callback), so a resume that truncates the logs to the checkpoint's step loses and repeats nothing.
"""

from __future__ import annotations

import time

import keras

from charkeras.model.carried_state import get_states
from charkeras.train import kill_points
from charkeras.train.callbacks.progress import TrainingProgress, current_step, every
from charkeras.train.run.checkpoints import (
    CheckpointMeta,
    copy_as_best,
    prune_checkpoints,
    save_checkpoint,
)
from charkeras.train.run.logs import sync_logs
from charkeras.train.run.names import BEST


class Checkpointer(keras.callbacks.Callback):
    """Also keeps the training clock, which each checkpoint records."""

    def __init__(self, progress: TrainingProgress, seconds_before: float = 0.0):
        super().__init__()
        self.progress = progress
        self.seconds_before = seconds_before
        self.started = None
        self.saved: tuple[int, object] | None = None  # (step, path) of the last checkpoint written

    def on_train_begin(self, logs=None):
        self.started = time.monotonic()

    def on_train_end(self, logs=None):
        # A resumed run calls fit twice (rest of the interrupted epoch, then the others): keep a
        # sum.
        self.seconds_before = self.train_seconds()
        self.started = None

    def on_train_batch_end(self, batch, logs=None):
        progress, step = self.progress, self.progress.step
        if every(step, progress.config.train.checkpoint_every, progress):
            self.save(reason="periodic")
        # a --val-every validation at this step
        if progress.last_val_step == step and self._improves():
            self._save_best(self.saved[1] if self.saved is not None and self.saved[0] == step
                            else None)

    def on_epoch_end(self, epoch, logs=None):
        self.save(reason="epoch")

    def train_seconds(self) -> float:
        running = time.monotonic() - self.started if self.started is not None else 0.0
        return self.seconds_before + running

    def save(self, reason: str):
        """Write a checkpoint at the current step (once per step); returns its path."""
        progress = self.progress
        step = current_step(self.model)
        if self.saved is not None and self.saved[0] == step:
            return self.saved[1]
        path = progress.run.checkpoint(step)
        with progress.work.timing("checkpoint"):  # charged by a time budget (`callbacks.budget`)
            self._write(path)
        self.saved = (step, path)
        if reason == "epoch" and self._improves():
            self._save_best(path)
        prune_checkpoints(progress.run, progress.config.train.keep_checkpoints)
        kill_points.reached("checkpoint")
        if reason == "epoch":
            kill_points.reached("epoch_end_checkpoint")
        return path

    def _write(self, path) -> None:
        progress = self.progress
        states = progress.stashed_states
        if states is None:
            states = get_states(self.model)
        meta = CheckpointMeta(step=current_step(self.model), val_loss=progress.last_val_loss,
                              train_seconds=self.train_seconds())
        # what was logged up to this step is on disk before the checkpoint is
        sync_logs(progress.run.path)
        save_checkpoint(path, self.model, self.model.optimizer, states, meta, progress.config)

    def _improves(self) -> bool:
        loss = self.progress.last_val_loss
        return loss is not None and loss < self.progress.best_val_loss

    def _save_best(self, checkpoint) -> None:
        """`best` := the checkpoint just written, or the model as it is now (a --val-every
        validation)."""
        self.progress.best_val_loss = self.progress.last_val_loss
        if checkpoint is not None:
            copy_as_best(checkpoint, self.progress.run)
        else:
            self._write(self.progress.run.checkpoints / BEST)
