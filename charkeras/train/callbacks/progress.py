"""What the training callbacks share: the run, its layout, the losses measured and the time spent."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import keras
import numpy as np

from charkeras.config import CharConfig
from charkeras.data.streams import StreamLayout
from charkeras.train.run_dir import RunDir


@dataclass
class TrainingProgress:
    run: RunDir
    config: CharConfig
    layout: StreamLayout
    verbose: int
    last_val_loss: float | None = None  # the newest validation, epoch-end or --val-every
    last_val_step: int | None = None  # the step it was measured at
    best_val_loss: float = math.inf  # the loss of checkpoints/best
    # The training states while a validation pass borrows the model: a checkpoint written then
    # (Ctrl-C during validation) must save these, not the validation's.
    stashed_states: list[np.ndarray] | None = field(default=None, repr=False)


def current_step(model) -> int:
    """The global step: the optimizer's iteration count, which checkpoints save and restore."""
    return int(model.optimizer.iterations.numpy())


def every(step: int, interval: int, progress: TrainingProgress) -> bool:
    """True at steps that are multiples of `interval` (0 = never) other than epoch ends, whose work
    happens in on_epoch_end."""
    return bool(interval) and step % interval == 0 and step % progress.layout.batches != 0


class AfterValidation(keras.callbacks.Callback):
    """Base of the callbacks that act on each validation's result (epoch ends and every `val_every`
    steps): `validated(step, loss)` runs after Validation measured `loss` at `step`, which is why these
    callbacks come after Validation in the list."""

    def __init__(self, progress: TrainingProgress):
        super().__init__()
        self.progress = progress

    def on_train_batch_end(self, batch, logs=None):
        step = current_step(self.model)
        if every(step, self.progress.config.train.val_every, self.progress):
            self._after(step)

    def on_epoch_end(self, epoch, logs=None):
        self._after(current_step(self.model))

    def _after(self, step: int) -> None:
        if self.progress.last_val_loss is not None:
            self.validated(step, self.progress.last_val_loss)

    def validated(self, step: int, loss: float) -> None:
        raise NotImplementedError
