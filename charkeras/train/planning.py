"""How many optimizer steps a run takes: epochs, `max_steps`, the `--time-budget` plan, and the
`model.fit` calls that cover them. No TensorFlow.

A run ends after `epochs` passes over the data, or after `max_steps` steps when that is sooner: with
a corpus whose epoch takes hours, users train by steps. The learning-rate schedule spans the steps
that will run. The global step k is at data position k % K of epoch k // K (K batches per epoch), so
a stop anywhere, mid-epoch included, resumes from the step alone.

A time budget is planned from the measured speed and re-planned as the run goes (the callback
`callbacks.budget.TimeBudget` measures, `plan_steps` computes): the steps per second over a moving
window of pure step time, and the work around the steps charged as it measured it: validations and
samples on a clock take their share of the time, those on a step cadence, periodic checkpoints and
epoch ends their cost per step, and the final work (the last epoch end: validation, sample,
checkpoint, report) is kept in reserve at the end. The budget counts from the start of the command.
Each plan moves the learning-rate schedule's anchor (`optimizers.replan`: the cosine is stretched
or compressed from the current step, never jumps) and is written to config.json (train.max_steps,
train.epochs), and every checkpoint saves the schedule in force, so a resume without a new budget
ends where the plan at its checkpoint ended.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from charkeras.config import STEPS_MAX, TrainConfig
from charkeras.errors import ConfigError


def planned_steps(cfg: TrainConfig, batches: int) -> int:
    total = cfg.epochs * batches
    return min(total, cfg.max_steps) if cfg.max_steps else total


def check_planned_steps(cfg: TrainConfig, batches: int) -> None:
    """Refuse a run whose steps would pass STEPS_MAX (each of --epochs and --max-steps may be in
    range while epochs x batches is not); a time budget plans its own, far fewer, steps."""
    total = planned_steps(cfg, batches)
    if not cfg.time_budget and total > STEPS_MAX:
        raise ConfigError(f"--epochs {cfg.epochs:,} x {batches:,} batches per epoch is {total:,} "
                          f"steps, more than the {STEPS_MAX:,} a run can take: lower --epochs or "
                          "give --max-steps")


@dataclass(frozen=True)
class FitSegment:
    """One `model.fit` call: epochs [first_epoch, end_epoch), each reading batches [skip, skip +
    take)."""

    first_epoch: int
    end_epoch: int
    skip: int
    take: int


def fit_segments(start_step: int, total_steps: int, batches: int) -> list[FitSegment]:
    """The fit calls that run steps [start_step, total_steps): the rest of an interrupted epoch, the
    whole epochs, and a last partial epoch when the run stops mid-epoch."""
    segments = []
    epoch, skip = divmod(start_step, batches)
    end_epoch, tail = divmod(total_steps, batches)
    # finish the interrupted epoch from its data position first
    if skip and start_step < total_steps:
        stop = batches if epoch < end_epoch else tail
        segments.append(FitSegment(epoch, epoch + 1, skip, stop - skip))
        epoch += 1
    if epoch < end_epoch:
        segments.append(FitSegment(epoch, end_epoch, 0, batches))
        epoch = end_epoch
    if epoch == end_epoch and tail:
        segments.append(FitSegment(epoch, epoch + 1, 0, tail))
    return segments


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
# Without a unit a number is minutes ("--time-budget 15"), the unit people mean for training runs.
_DEFAULT_UNIT = "m"


def parse_duration(text: str) -> float:
    """Seconds in a duration such as 90s, 15m, 2h, 1h30m or 1.5h; a bare number is minutes."""
    spec = str(text).strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", spec):
        spec += _DEFAULT_UNIT
    parts = _PART.findall(spec)
    if not spec or "".join(a + u for a, u in parts) != spec:
        raise ConfigError(
            f"--time-budget must be a duration such as 90s, 15m, 2h or 1h30m (got {text!r})")
    seconds = sum(float(amount) * _UNITS[unit] for amount, unit in parts)
    if seconds <= 0:
        raise ConfigError(f"--time-budget must be > 0 (got {text!r})")
    return seconds


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h{m:02d}m"
    return f"{m}m{s:02d}s" if m else f"{s}s"


# a validation batch (forward only) against a training step, until timed
VALIDATION_STEP_FRACTION = 0.4
EXIT_SECONDS = 1.0  # after the last callback: the summary and the process's exit (not measurable)
CHECKPOINT_BYTES_PER_SECOND = 100e6  # a checkpoint's cost until one is timed


@dataclass(frozen=True)
class WorkCosts:
    """Measured seconds of the work around the steps (an estimate only until first measured)."""

    validation: float
    sample: float = 0.0
    checkpoint: float = 0.0
    report: float = 0.0
    epoch_end: float | None = None  # a whole epoch end, when one was measured
    per_step: float = 0.0  # the callbacks' small work after every step

    def final(self) -> float:
        """The last epoch end: what follows the last step (validation, sample, checkpoint,
        report)."""
        parts = self.validation + self.sample + self.checkpoint + self.report + self.per_step
        return max(parts, self.epoch_end or 0.0)


@dataclass(frozen=True)
class Cadences:
    """How often the work comes: steps between (0: not by steps), and the share of wall time taken
    by the work on a clock (`callbacks.cadence.Cadence.share`)."""

    batches: int  # steps per epoch
    val_every: int = 0
    sample_every: int = 0
    checkpoint_every: int = 0
    clock_share: float = 0.0


@dataclass(frozen=True)
class BudgetPlan:
    total_steps: int
    step_seconds: float  # measured, per training step
    per_step_seconds: float  # with the share of the work around the steps
    seconds_left: float  # when planned
    reserve_seconds: float  # kept for the final work
    limited_by: str  # "budget" or "epochs"

    def describe(self, batches: int, chars_per_step: int) -> str:
        epochs = self.total_steps / batches
        return (f"time budget plan: {self.step_seconds * 1e3:.0f} ms/step "
                f"({chars_per_step / self.step_seconds:,.0f} chars/s) -> {self.total_steps:,} "
                f"steps ({epochs:.1f} epochs of {batches:,} steps) in the "
                f"{format_duration(self.seconds_left)} left, {self.reserve_seconds:.1f} s kept for "
                "the final validation and save"
                + (" (--epochs/--max-steps end it sooner)" if self.limited_by == "epochs" else "")
                + "; re-planned as the speed changes")


def plan_steps(*, seconds_left: float, step_seconds: float, now_step: int, costs: WorkCosts,
               cadences: Cadences, limit_steps: int | None = None) -> BudgetPlan:
    """Total optimizer steps so that training and its final work end within `seconds_left`, from
    step `now_step` (at least one more step)."""
    per_step = step_seconds + costs.per_step + (costs.epoch_end or costs.final()) / cadences.batches
    for cost, interval in ((costs.validation, cadences.val_every),
                           (costs.sample, cadences.sample_every),
                           (costs.checkpoint, cadences.checkpoint_every)):
        if interval:
            per_step += cost / interval
    reserve = costs.final() + EXIT_SECONDS
    training = max(0.0, seconds_left - reserve) * (1.0 - min(cadences.clock_share, 0.5))
    total = now_step + max(1, int(training / per_step))
    limited = "budget"
    if limit_steps is not None and limit_steps < total:
        total, limited = max(limit_steps, now_step + 1), "epochs"
    return BudgetPlan(total, step_seconds, per_step, seconds_left, reserve, limited)


def planned_epochs(total_steps: int, batches: int) -> int:
    return max(1, math.ceil(total_steps / batches))


# `fit --time-budget` without --epochs: epochs without a practical limit until the plan sets them.
UNLIMITED_EPOCHS = 1_000_000
