"""When validations and samples happen during training: every N steps when the option gives N
(`val_every`, `sample_every`), else on a clock, so a run of any speed shows progress that can be
watched. No TensorFlow.

By the clock, a validation comes every 5% of a time budget but at least every 2 minutes (every 2
minutes without a budget), and a sample every 2 minutes; after each, the interval widens if need be
so that the work takes at most 5% of the time (a large validation set on a slow machine). Epoch ends
validate as always and restart the clock. Step cadences decide from the step alone, so a resumed run
repeats them exactly; clock cadences differ from run to run by nature (they never change training).
"""

from __future__ import annotations

import time

BUDGET_SHARE = 0.05  # of a time budget between two validations
MAX_INTERVAL = 120.0  # seconds: validations and samples at least this often by default
MAX_WORK_SHARE = 0.05  # of the time that validations (or samples) may take


class Cadence:
    """Due every `every_steps` steps (other than epoch ends) when it is > 0, else every `seconds` of
    wall time since the last one (0: never)."""

    def __init__(self, every_steps: int, seconds: float, clock=time.monotonic):
        self.every_steps, self.seconds, self.clock = every_steps, seconds, clock
        self.interval = seconds
        self.last: float | None = None  # when the last one ended (or training began)

    @property
    def by_time(self) -> bool:
        return not self.every_steps and self.seconds > 0

    def start(self) -> None:
        if self.last is None:
            self.last = self.clock()

    def due(self, step: int, batches: int) -> bool:
        if step % batches == 0:  # an epoch end: its own work follows in on_epoch_end
            return False
        if self.every_steps:
            return step % self.every_steps == 0
        return self.by_time_due()

    def by_time_due(self) -> bool:
        if not self.by_time:
            return False
        self.start()
        return self.clock() - self.last >= self.interval

    def done(self, spent: float) -> None:
        """One happened and took `spent` seconds: the clock restarts, and the interval keeps the
        work under MAX_WORK_SHARE of the time."""
        self.last = self.clock()
        if self.by_time:
            self.interval = max(self.seconds, spent / MAX_WORK_SHARE)

    def share(self, cost: float) -> float:
        """The share of wall time this cadence's work takes at `cost` seconds each (0 by steps)."""
        return cost / (self.interval + cost) if self.by_time and cost > 0 else 0.0


def validation_cadence(val_every: int, time_budget: float, clock=time.monotonic) -> Cadence:
    seconds = min(BUDGET_SHARE * time_budget, MAX_INTERVAL) if time_budget else MAX_INTERVAL
    return Cadence(val_every, seconds, clock)


def sample_cadence(sample_every: int, clock=time.monotonic) -> Cadence:
    return Cadence(sample_every, MAX_INTERVAL, clock)
