"""`fit --time-budget`: time the first steps, plan the run's steps and LR schedule, stop in time.

The plan (charkeras/train/time_budget.py) is made before the first checkpoint and written into
config.json (train.max_steps, train.epochs), so checkpoints and a resumed run see the final plan.
The LR schedule's length is a variable set by the plan; the run stops at the planned step, or
earlier when the clock says the estimate was short (the guard).
"""

from __future__ import annotations

import time

import keras
import tensorflow as tf

from charkeras.atomic import write_text_atomic
from charkeras.train.callbacks.progress import TrainingProgress, current_step
from charkeras.train.run_dir import CONFIG_FILE
from charkeras.train.step_plan import planned_steps
from charkeras.train.time_budget import FINAL_SECONDS, format_duration, plan_steps, planned_epochs

_UNTIMED = 2  # the first steps trace the graphs
_MIN_TIMED_STEPS, _MIN_TIMED_SECONDS, _MAX_TIMED_STEPS = 10, 2.0, 200
_CHEAP_VALIDATION_SECONDS = 3.0  # a first validation (trace included) this quick is timed again


def adjustable_schedule(optimizer, warmup_steps: int):
    """Give the optimizer's LR schedule a decay length that can be set later; returns the setter."""
    schedule = getattr(optimizer, "_learning_rate", None)
    if not hasattr(schedule, "decay_steps"):  # a constant learning rate: nothing to fit
        return lambda total_steps: None
    variable = tf.Variable(float(schedule.decay_steps), trainable=False, dtype=tf.float32, name="decay_steps")
    schedule.decay_steps = variable

    def set_total(total_steps: int) -> None:
        variable.assign(float(max(total_steps - warmup_steps, 1)))

    return set_total


class TimeBudget(keras.callbacks.Callback):
    def __init__(self, progress: TrainingProgress, *, deadline: float, optimizer, val_batches: int,
                 start_step: int, validation=None, announce=print):
        super().__init__()
        self.progress, self.deadline, self.val_batches = progress, deadline, val_batches
        self.start_step, self.announce, self.validation = start_step, announce, validation
        self.set_total = adjustable_schedule(optimizer, progress.config.train.warmup_steps)
        self.plan = None
        self.stopped_early = False
        self._timer = None  # (step, monotonic time) when timing began
        self._epoch_end_started = None
        self.epoch_end_seconds = 0.0  # the longest epoch-end work seen (validation, checkpoint, ...)

    # --- measuring and planning -------------------------------------------------------------
    def on_train_batch_end(self, batch, logs=None):
        step = current_step(self.model)
        now = time.monotonic()
        if self.plan is None:
            if step == self.start_step + _UNTIMED or self._timer is None and step > self.start_step + _UNTIMED:
                self._timer = (step, now)
            if self._should_plan(step, now):
                self._make_plan(step, now)
        if self.plan is not None and step >= self.plan.total_steps:
            self.model.stop_training = True
        elif now + self._reserve() > self.deadline:
            self.stopped_early = True
            self.model.stop_training = True
            self.announce(f"\ntime budget: stopping at step {step:,} (planned {self._planned():,}): "
                          "the steps ran slower than measured")

    def _should_plan(self, step: int, now: float) -> bool:
        cfg, batches = self.progress.config.train, self.progress.layout.batches
        # The last chance: the batch before an epoch-end or periodic checkpoint.
        if (step - self.start_step) >= batches or step % batches == 0:
            return True
        if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            return True
        if self._timer is None:
            return False
        timed, seconds = step - self._timer[0], now - self._timer[1]
        return (timed >= _MIN_TIMED_STEPS and seconds >= _MIN_TIMED_SECONDS) or timed >= _MAX_TIMED_STEPS

    def _make_plan(self, step: int, now: float) -> None:
        progress = self.progress
        cfg, layout = progress.config, progress.layout
        if self._timer is not None and step > self._timer[0]:
            step_seconds = (now - self._timer[1]) / (step - self._timer[0])
        else:  # too few steps before the first checkpoint: include the traced ones
            step_seconds = (now - self._began) / max(step - self.start_step, 1)
        val_seconds = None
        if self.validation is not None:  # the first validation traces its graph: pay that before planning
            began = time.monotonic()
            self.validation.validate()
            now = time.monotonic()
            if now - began < _CHEAP_VALIDATION_SECONDS:  # cheap: time a second one, without the trace
                self.validation.validate()
                val_seconds, now = time.monotonic() - now, time.monotonic()
        self.plan = plan_steps(seconds_left=self.deadline - now, step_seconds=step_seconds, now_step=step,
                               batches=layout.batches, val_batches=self.val_batches,
                               val_every=cfg.train.val_every, limit_steps=planned_steps(cfg.train, layout.batches),
                               val_seconds=val_seconds)
        total = self.plan.total_steps
        self.set_total(total)
        progress.config = cfg.replace(train={"max_steps": total, "epochs": planned_epochs(total, layout.batches)})
        write_text_atomic(progress.run.path / CONFIG_FILE, progress.config.to_json())
        self.announce("\n" + self.plan.describe(layout.batches, layout.batch_size * layout.seq_len, step)
                      + f"; ends by {time.strftime('%H:%M:%S', time.localtime(time.time() + self.deadline - now))}")

    def _planned(self) -> int:
        return self.plan.total_steps if self.plan else 0

    # --- the guard ----------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._began = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        self._epoch_end_started = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        if self._epoch_end_started is not None:
            spent = time.monotonic() - self._epoch_end_started
            self.epoch_end_seconds = max(self.epoch_end_seconds, spent)
            self._epoch_end_started = None

    def _reserve(self) -> float:
        """Time to keep for the work after the last step: an epoch end and the final save."""
        return self.epoch_end_seconds + FINAL_SECONDS / 2

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def describe_remaining(self) -> str:
        return format_duration(self.remaining())
