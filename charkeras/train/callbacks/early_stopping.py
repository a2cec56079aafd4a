"""`fit --patience N`: stop after N validations in a row without a new best validation loss.

Validations are the epoch-end ones and every `val_every` steps; the best checkpoint (epoch ends) is
kept in checkpoints/best as always. Must come after Validation, whose result it reads.
"""

from __future__ import annotations

import math

import keras

from charkeras.train.callbacks.progress import TrainingProgress, current_step, every


class EarlyStopping(keras.callbacks.Callback):
    def __init__(self, progress: TrainingProgress, patience: int, announce=print):
        super().__init__()
        self.progress, self.patience, self.announce = progress, patience, announce
        self.best = progress.best_val_loss if progress.best_val_loss is not None else math.inf
        self.without_improvement = 0
        self.stopped_at = None

    def on_train_batch_end(self, batch, logs=None):
        step = current_step(self.model)
        if every(step, self.progress.config.train.val_every, self.progress):
            self._validated(step)

    def on_epoch_end(self, epoch, logs=None):
        self._validated(current_step(self.model))

    def _validated(self, step: int) -> None:
        loss = self.progress.last_val_loss
        if loss is None:
            return
        if loss < self.best:
            self.best, self.without_improvement = loss, 0
            return
        self.without_improvement += 1
        if self.without_improvement >= self.patience and self.stopped_at is None:
            self.stopped_at = step
            self.model.stop_training = True
            self.announce(f"\nearly stopping at step {step:,}: {self.patience} validations without improving "
                          f"on {self.best:.4f} nats/char (best checkpoint: {self.progress.run.checkpoints / 'best'})")
