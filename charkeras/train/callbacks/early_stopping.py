"""`fit --patience N`: stop after N validations in a row without a new best validation loss.

Every validation counts: the epoch-end ones and those on the run's cadence (every `val_every` steps,
else by the clock); the best checkpoint (epoch ends) is kept in checkpoints/best as always. Must
come after Validation, whose result it reads.

A resumed run counts on from where the stopped one was: the validations recorded since the best
checkpoint's step (the run's validation log, rewound to the resumed checkpoint), and a best written
after the resumed checkpoint (then killed) counts as the improvement it was when it is measured
again. So --patience stops a resumed run on a step cadence at the step an unbroken one stops at.
"""

from __future__ import annotations

import math

from charkeras.errors import RunDirError
from charkeras.train.callbacks.progress import AfterValidation, TrainingProgress, current_step
from charkeras.train.run.checkpoints import read_meta
from charkeras.train.run.report_curves import read_curves


class EarlyStopping(AfterValidation):
    def __init__(self, progress: TrainingProgress, patience: int, announce=print):
        super().__init__(progress)
        self.patience, self.announce = patience, announce
        self.best = progress.best_val_loss if progress.best_val_loss is not None else math.inf
        self.without_improvement = 0
        self.stopped_at = None
        self.best_step = None
        self._started = False

    def on_train_begin(self, logs=None):
        if self._started:  # a resumed run calls fit more than once
            return
        self._started = True
        best = self.progress.run.best_checkpoint()
        try:
            self.best_step = int(read_meta(best)["step"]) if best is not None else None
        except (RunDirError, KeyError, TypeError, ValueError):
            self.best_step = None
        start = current_step(self.model)
        if self.best_step is not None and self.best_step <= start:
            self.without_improvement = validations_between(self.best_step, start,
                                                           self.progress.run.path)
            self.best_step = None

    def validated(self, step: int, loss: float) -> None:
        if self.best_step is not None and step < self.best_step:
            # replaying the steps before a best that was written ahead of the resumed checkpoint
            return
        if loss < self.best or (step == self.best_step and loss == self.best):
            self.best, self.without_improvement = loss, 0
            return
        self.without_improvement += 1
        if self.without_improvement >= self.patience and self.stopped_at is None:
            self.stopped_at = step
            self.model.stop_training = True
            self.announce(f"\nearly stopping at step {step:,}: {self.patience} validations without "
                          f"improving on {self.best:.4f} nats/char (best checkpoint: "
                          f"{self.progress.run.checkpoints / 'best'})")


def validations_between(first: int, last: int, run_path) -> int:
    """Validations recorded at steps in (first, last], clock validations included."""
    _, validations = read_curves(run_path)
    return sum(first < row["step"] <= last for row in validations)
