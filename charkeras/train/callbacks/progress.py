"""What the training callbacks share: the run, its layout, the losses measured and the time
spent."""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import keras
import numpy as np

from charkeras.config import CharConfig
from charkeras.data.streams import StreamLayout
from charkeras.train.callbacks.cadence import Cadence, sample_cadence, validation_cadence
from charkeras.train.run.directory import RunDir


@dataclass
class WorkTimes:
    """Seconds the work around the steps took, by kind ("validation", "sample", "checkpoint"): the
    time budget charges each as measured (`callbacks.budget`)."""

    latest: dict[str, float] = field(default_factory=dict)
    total: float = 0.0  # every timed piece of work so far

    def record(self, kind: str, seconds: float) -> None:
        self.latest[kind] = seconds
        self.total += seconds

    @contextmanager
    def timing(self, kind: str):
        began = time.monotonic()
        try:
            yield
        finally:
            self.record(kind, time.monotonic() - began)


@dataclass
class TrainingProgress:
    run: RunDir
    config: CharConfig
    layout: StreamLayout
    verbose: int
    last_val_loss: float | None = None  # the newest validation: epoch end, cadence or time budget
    last_val_step: int | None = None  # the step it was measured at
    best_val_loss: float = math.inf  # the loss of checkpoints/best
    # The global step after the latest batch, kept by StepCounter: the callbacks ask for it several
    # times a step, and each read of the optimizer's counter is an eager op.
    step: int = 0
    # The training states while a validation pass borrows the model: a checkpoint written then
    # (Ctrl-C during validation) must save these, not the validation's.
    stashed_states: list[np.ndarray] | None = field(default=None, repr=False)
    work: WorkTimes = field(default_factory=WorkTimes)
    # When validations and samples happen between epoch ends (`callbacks.cadence`); from the config.
    validations: Cadence | None = None
    samples: Cadence | None = None

    def __post_init__(self):
        train = self.config.train
        if self.validations is None:
            self.validations = validation_cadence(train.val_every, train.time_budget)
        if self.samples is None:
            self.samples = sample_cadence(train.sample_every)


def current_step(model) -> int:
    """The global step: the optimizer's iteration count, which checkpoints save and restore."""
    return int(model.optimizer.iterations.numpy())


class StepCounter(keras.callbacks.Callback):
    """Reads the global step once per batch into `progress.step`, for the callbacks after it."""

    def __init__(self, progress: TrainingProgress):
        super().__init__()
        self.progress = progress

    def on_train_begin(self, logs=None):
        self.progress.step = current_step(self.model)

    def on_train_batch_end(self, batch, logs=None):
        self.progress.step = current_step(self.model)


def every(step: int, interval: int, progress: TrainingProgress) -> bool:
    """True at steps that are multiples of `interval` (0 = never) other than epoch ends, whose work
    happens in on_epoch_end."""
    return bool(interval) and step % interval == 0 and step % progress.layout.batches != 0


class AfterValidation(keras.callbacks.Callback):
    """Base of the callbacks that act on each validation's result (epoch ends and the validations
    between them): `validated(step, loss)` runs after Validation measured `loss` at `step`, which is
    why these callbacks come after Validation in the list."""

    def __init__(self, progress: TrainingProgress):
        super().__init__()
        self.progress = progress

    def on_train_batch_end(self, batch, logs=None):
        step = self.progress.step
        if self.progress.last_val_step == step and step % self.progress.layout.batches != 0:
            self._after(step)

    def on_epoch_end(self, epoch, logs=None):
        self._after(current_step(self.model))

    def _after(self, step: int) -> None:
        if self.progress.last_val_loss is not None:
            self.validated(step, self.progress.last_val_loss)

    def validated(self, step: int, loss: float) -> None:
        raise NotImplementedError
