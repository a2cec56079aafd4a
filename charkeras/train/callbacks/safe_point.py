"""The end of a step's work: where training stops on Ctrl-C or SIGTERM
(charkeras/train/interrupts.py).

Last of charkeras's callbacks, after the validation, the sample, the loggers and the checkpointer
have done their work for the step (or, at an epoch's last step, for the epoch end). A step is
complete only there, so a checkpoint written there and the logs agree: a resume from it repeats and
misses nothing.
"""

from __future__ import annotations

import keras

from charkeras.train import kill_points
from charkeras.train.callbacks.checkpointing import Checkpointer
from charkeras.train.callbacks.progress import current_step
from charkeras.train.interrupts import Interrupted, current_session, stop_requested


class SafePoint(keras.callbacks.Callback):
    def __init__(self, checkpointer: Checkpointer, total_steps: int):
        super().__init__()
        self.checkpointer, self.total_steps = checkpointer, total_steps
        self.completed_step: int | None = None

    def on_train_batch_end(self, batch, logs=None):
        step, steps = self.checkpointer.progress.step, (self.params or {}).get("steps")
        if (steps is not None and batch
            + 1 >= steps) or step % self.checkpointer.progress.layout.batches == 0:
            # the epoch's end work follows (on_epoch_end); the step is complete only after it
            return
        self._complete(step)

    def on_epoch_end(self, epoch, logs=None):
        self._complete(current_step(self.model))

    def _complete(self, step: int) -> None:
        self.completed_step = step
        kill_points.reached("step", step)
        signum = stop_requested()
        if signum is not None and step < self.total_steps:
            self._save()
            raise Interrupted(signum)

    def _save(self):
        # no second write when this step has one
        path = self.checkpointer.save(reason="interrupted")
        session = current_session()
        if session is not None:
            session.saved = path
        return path

    def interrupted(self, exc: KeyboardInterrupt) -> None:
        """A KeyboardInterrupt that did not come through `_complete` (a second Ctrl-C, or one raised
        by code): save only when it landed between complete steps, so the logs still match."""
        session = current_session()
        if getattr(exc, "forced", False) or (session is not None and session.saved is not None):
            return
        if self.model is not None and self.completed_step == current_step(self.model):
            self._save()
