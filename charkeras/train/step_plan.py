"""How many optimizer steps a run takes, and how `model.fit` calls cover them.

A run ends after `epochs` passes over the data, or after `max_steps` steps when that is sooner: with
a corpus whose epoch takes hours, users train by steps. The learning-rate schedule spans the steps
that will run. The global step k is at data position k % K of epoch k // K (K batches per epoch), so a
stop anywhere, mid-epoch included, resumes from the step alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from charkeras.config import TrainConfig


def planned_steps(cfg: TrainConfig, batches: int) -> int:
    total = cfg.epochs * batches
    return min(total, cfg.max_steps) if cfg.max_steps else total


@dataclass(frozen=True)
class FitSegment:
    """One `model.fit` call: epochs [first_epoch, end_epoch), each reading batches [skip, skip + take)."""

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
    if skip and start_step < total_steps:  # finish the interrupted epoch from its data position first
        stop = batches if epoch < end_epoch else tail
        segments.append(FitSegment(epoch, epoch + 1, skip, stop - skip))
        epoch += 1
    if epoch < end_epoch:
        segments.append(FitSegment(epoch, end_epoch, 0, batches))
        epoch = end_epoch
    if epoch == end_epoch and tail:
        segments.append(FitSegment(epoch, epoch + 1, 0, tail))
    return segments
