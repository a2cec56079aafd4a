"""`fit --time-budget`: measure the steps and the work around them, plan the run's steps and its
learning-rate schedule, re-plan as the speed changes, and stop in time.

The first plan comes after a few timed steps; then every REPLAN_SECONDS (5% of a short budget) the
plan is made again from
the steps of about the last WINDOW_SECONDS (pure step time: the work between steps is measured
apart) and the work's measured costs (`planning.plan_steps`). A new total moves the schedule's
anchor (`optimizers.replan`: continuous, the rest of the cosine spread over the new remaining steps)
and is written to config.json. The run stops at the planned step; a guard stops it sooner when even
one more step and the final work would pass the deadline (the machine slowed down between two
plans).
"""

from __future__ import annotations

import statistics
import time
from collections import deque

import keras
import numpy as np

from charkeras.atomic import write_text_atomic
from charkeras.train.callbacks.progress import TrainingProgress
from charkeras.train.optimizers import replan
from charkeras.train.planning import (
    CHECKPOINT_BYTES_PER_SECOND,
    EXIT_SECONDS,
    VALIDATION_STEP_FRACTION,
    Cadences,
    WorkCosts,
    format_duration,
    plan_steps,
    planned_epochs,
    planned_steps,
)
from charkeras.train.run.names import CONFIG_FILE

_UNTIMED = 2  # the first steps trace the graphs
_MIN_TIMED_STEPS, _MIN_TIMED_SECONDS, _MAX_TIMED_STEPS = 10, 2.0, 200
WINDOW_SECONDS = 60.0  # the step time is the mean over about this much recent training
_MIN_WINDOW_STEPS = 10
REPLAN_SECONDS = 20.0
REPLAN_BUDGET_SHARE = 0.05
# the epoch-end cost is the median of the last ones (the first traces and draws)
_EPOCH_ENDS_KEPT = 9
END_MARGIN_SHARE = 0.005  # of the budget: aimed short of the deadline, for the last steps' jitter
_ANNOUNCE_CHANGE = 0.05  # a new plan this much longer or shorter is printed


class TimeBudget(keras.callbacks.Callback):
    """Plans and re-plans the steps so the run, its final work included, ends at `deadline`.

    `report`: a callable that writes the run's report, timed once at the first plan (its cost is
    part of the final work); `clock`: time.monotonic, or a fake one in tests."""

    def __init__(self, progress: TrainingProgress, *, deadline: float, budget: float, optimizer,
                 val_batches: int, start_step: int, report=None, announce=print,
                 clock=time.monotonic):
        super().__init__()
        self.progress, self.deadline, self.budget = progress, deadline, budget
        self.optimizer, self.val_batches, self.start_step = optimizer, val_batches, start_step
        self.report, self.announce, self.clock = report, announce, clock
        # --epochs/--max-steps
        self.limit = planned_steps(progress.config.train, progress.layout.batches)
        self.plan = None
        self.plans = 0  # how many plans were made (the first included)
        self.stopped_early = False
        self._planned_at = None
        self._timer = None  # (step, time) when timing the first plan began
        self._window: deque[tuple[float, float]] = deque()  # (end time, seconds) of recent steps
        self._step_began = None
        self._after_step = None  # (time, named work total) after this callback's batch end
        self._epoch_ended = False
        self._between_sum, self._between_count = 0.0, 0  # unnamed work between steps
        self._epoch_ends: deque[float] = deque(maxlen=_EPOCH_ENDS_KEPT)  # whole epoch ends measured
        self.replan_seconds = min(REPLAN_SECONDS, max(1.0, REPLAN_BUDGET_SHARE * budget))
        self.report_seconds = 0.0

    # --- measuring ------------------------------------------------------------------------------
    def on_train_batch_begin(self, batch, logs=None):
        now = self.clock()
        if self._after_step is not None:
            spent, named = now - self._after_step[0], self.progress.work.total - self._after_step[1]
            if self._epoch_ended:  # the whole epoch end (and a new model.fit call, if one)
                self._epoch_ends.append(spent)
            else:
                self._between_sum += max(0.0, spent - named)
                self._between_count += 1
            self._after_step, self._epoch_ended = None, False
        self._step_began = now

    def on_epoch_end(self, epoch, logs=None):
        self._epoch_ended = True  # this callback comes first: the epoch end's work follows

    def on_train_batch_end(self, batch, logs=None):
        step, now = self.progress.step, self.clock()
        if self._step_began is not None and step > self.start_step + _UNTIMED:
            self._window.append((now, now - self._step_began))
            while (len(self._window) > _MIN_WINDOW_STEPS
                   and now - self._window[0][0] > WINDOW_SECONDS):
                self._window.popleft()
        if self._timer is None and step >= self.start_step + _UNTIMED:
            self._timer = (step, now)
        if self._plan_due(step, now):
            self._make_plan(step, now)
        self._stop_if_done(step)
        self._after_step = (self.clock(), self.progress.work.total)

    def _plan_due(self, step: int, now: float) -> bool:
        """The first plan once enough steps are timed; a re-plan every `replan_seconds`."""
        if self.plan is None:
            return self._ready_to_plan(step, now)
        return now - self._planned_at >= self.replan_seconds

    def _ready_to_plan(self, step: int, now: float) -> bool:
        if self._timer is None or not self._window:
            return False
        timed, seconds = step - self._timer[0], now - self._timer[1]
        return (timed >= _MIN_TIMED_STEPS
                and seconds >= _MIN_TIMED_SECONDS) or timed >= _MAX_TIMED_STEPS

    def step_seconds(self) -> float:
        return sum(d for _, d in self._window) / len(self._window)

    def costs(self, step_seconds: float) -> WorkCosts:
        """The work around the steps as measured so far; estimated until first measured."""
        latest = self.progress.work.latest
        validation = latest.get("validation",
                                self.val_batches * step_seconds * VALIDATION_STEP_FRACTION)
        return WorkCosts(
            validation=validation, sample=latest.get("sample", 0.0),
            checkpoint=latest.get("checkpoint", self._checkpoint_estimate()),
            report=self.report_seconds,
            epoch_end=statistics.median(self._epoch_ends) if self._epoch_ends else None,
            per_step=self._between_sum / self._between_count if self._between_count else 0.0)

    def _checkpoint_estimate(self) -> float:
        variables = [*self.model.variables, *self.optimizer.variables]
        return sum(int(np.prod(v.shape)) * 4 for v in variables) / CHECKPOINT_BYTES_PER_SECOND

    # --- planning -------------------------------------------------------------------------------
    def _make_plan(self, step: int, now: float) -> None:
        progress = self.progress
        if self.plan is None and self.report is not None:  # the report is part of the final work
            began = self.clock()
            self.report()
            self.report_seconds = self.clock() - began
            now = self.clock()
        train = progress.config.train
        step_seconds = self.step_seconds()
        costs = self.costs(step_seconds)
        # Work on a clock happens only in epochs longer than its interval (epoch ends restart it).
        epoch_seconds = progress.layout.batches * step_seconds
        clock_share = sum(cadence.share(cost) for cadence, cost in (
            (progress.validations, costs.validation), (progress.samples, costs.sample))
            if epoch_seconds > cadence.interval)
        cadences = Cadences(
            batches=progress.layout.batches, val_every=train.val_every,
            sample_every=train.sample_every,
            checkpoint_every=train.checkpoint_every, clock_share=clock_share)
        plan = plan_steps(seconds_left=self.deadline - now - END_MARGIN_SHARE * self.budget,
                          step_seconds=step_seconds, now_step=step, costs=costs, cadences=cadences,
                          limit_steps=self.limit)
        previous, self.plan, self._planned_at = self.plan, plan, now
        self.plans += 1
        if previous is not None and plan.total_steps == previous.total_steps:
            return
        replan(self.optimizer, step, plan.total_steps)
        batches = progress.layout.batches
        self._record_total(plan.total_steps)
        if previous is None:
            ends = time.strftime("%H:%M:%S", time.localtime(time.time() + self.deadline - now))
            self.announce("\n" + plan.describe(batches,
                                               progress.layout.batch_size * progress.layout.seq_len)
                          + f"; ends by {ends}")
        elif abs(plan.total_steps - previous.total_steps) > _ANNOUNCE_CHANGE * previous.total_steps:
            self.announce(f"\ntime budget: re-planned at step {step:,} to {plan.total_steps:,} "
                          f"steps (was {previous.total_steps:,}): {step_seconds * 1e3:.0f} ms/step "
                          "now")

    def _record_total(self, total_steps: int) -> None:
        """config.json holds the run's length, so a `--resume` continues the same plan."""
        progress = self.progress
        progress.config = progress.config.replace(
            train={"max_steps": total_steps,
                   "epochs": planned_epochs(total_steps, progress.layout.batches)})
        write_text_atomic(progress.run.path / CONFIG_FILE, progress.config.to_json())

    def _stop_if_done(self, step: int) -> None:
        if self.plan is None:
            return
        if step >= self.plan.total_steps:
            self.model.stop_training = True
            return
        now = self.clock()
        reserve = self.costs(self.step_seconds()).final() + EXIT_SECONDS
        if now + self.step_seconds() + reserve > self.deadline:
            self.stopped_early = True
            self.model.stop_training = True
            # The run ends here: a resume must not take the few planned steps left as unfinished
            # training (the schedule is at its tail anyway).
            self._record_total(step)
            self.announce(f"\ntime budget: stopping at step {step:,} (planned "
                          f"{self.plan.total_steps:,}): the steps ran slower than measured")

    def remaining(self) -> float:
        return self.deadline - self.clock()

    def describe_remaining(self) -> str:
        return format_duration(self.remaining())
