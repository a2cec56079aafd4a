"""`fit --time-budget`: durations, and the plan that fits a run's steps into its budget. No TensorFlow.

The plan is made once, early (after a few timed steps and before the first checkpoint), so that every
checkpoint and config.json record the final number of steps: a resumed run follows the same LR
schedule. The budget counts from the start of the command; the plan leaves room for the work
around the steps (validations, samples, checkpoints, the final save), which it estimates from the
measured step time, and a guard stops training early if the estimate was short.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from charkeras.errors import ConfigError

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
        raise ConfigError(f"--time-budget must be a duration such as 90s, 15m, 2h or 1h30m (got {text!r})")
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


# Costs around the steps, relative to one measured training step (forward + backward) or in seconds.
VALIDATION_STEP_FRACTION = 0.4  # a validation batch (forward only) against a training step
EPOCH_END_SECONDS = 0.15  # checkpoint, sample, logs, curves and a new data iterator at every epoch end
FINAL_SECONDS = 3.0  # the last validation's trace, final checkpoint and report
SAFETY = 0.95  # the plan uses this share of the time it computes, the guard covers the rest


@dataclass(frozen=True)
class BudgetPlan:
    total_steps: int
    step_seconds: float  # measured, per training step
    per_step_seconds: float  # with the estimated share of validations and epoch ends
    seconds_left: float  # when planned
    limited_by: str  # "budget" or "epochs"

    def describe(self, batches: int, chars_per_step: int, now_step: int) -> str:
        epochs = self.total_steps / batches
        return (f"time budget plan: {self.step_seconds * 1e3:.0f} ms/step measured "
                f"({chars_per_step / self.step_seconds:,.0f} chars/s) -> {self.total_steps:,} steps "
                f"({epochs:.1f} epochs of {batches:,} steps) in the {format_duration(self.seconds_left)} left"
                + (" (--epochs/--max-steps end it sooner)" if self.limited_by == "epochs" else "")
                + f"; LR schedule over steps 0-{self.total_steps:,}")


def plan_steps(*, seconds_left: float, step_seconds: float, now_step: int, batches: int, val_batches: int,
               val_every: int = 0, limit_steps: int | None = None, min_steps: int = 1,
               val_seconds: float | None = None) -> BudgetPlan:
    """Total optimizer steps so that training ends within `seconds_left` from step `now_step`.

    `val_seconds`: a measured validation pass; without it one is estimated from the step time."""
    if val_seconds is None:
        val_seconds = val_batches * step_seconds * VALIDATION_STEP_FRACTION
    per_step = step_seconds + (val_seconds + EPOCH_END_SECONDS) / batches
    if val_every:
        per_step += val_seconds / val_every
    usable = max(0.0, seconds_left * SAFETY - FINAL_SECONDS)
    total = max(now_step + int(usable / per_step), min_steps, now_step + 1)
    limited = "budget"
    if limit_steps is not None and limit_steps < total:
        total, limited = max(limit_steps, now_step + 1), "epochs"
    return BudgetPlan(total, step_seconds, per_step, seconds_left, limited)


def planned_epochs(total_steps: int, batches: int) -> int:
    return max(1, math.ceil(total_steps / batches))


# `fit --time-budget` without --epochs: epochs without a practical limit until the plan sets them.
UNLIMITED_EPOCHS = 1_000_000
