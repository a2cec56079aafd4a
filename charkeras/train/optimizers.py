"""The optimizer and learning-rate schedule of a run, built from its TrainConfig.

The schedule is anchored, so a time budget can change a run's length while it trains: its state is
one optimizer variable, (anchor_step, anchor_progress, total_steps), saved in every checkpoint with
the optimizer's other variables, so an exact resume restores the schedule that was in force at the
checkpoint's step. Progress through the decay at step k is

    p(k) = anchor_progress + (1 - anchor_progress) * (k - anchor_step) / (total_steps - anchor_step)

clipped to [0, 1]; cosine: lr = peak * (alpha + (1 - alpha) * (1 + cos(pi p)) / 2), exponential:
lr = peak * min_lr_frac ** p (alpha = min_lr_frac). A run of fixed length has the anchor
(warmup_steps, 0, total_steps): the usual schedule. `replan` moves the anchor to the current step
and keeps p there, so the learning rate is continuous: the rest of the cosine is stretched over more
steps when the plan extends the run, or compressed into fewer when it cuts it. Past total_steps
p stays 1: the final learning rate holds (a resumed run given more steps never jumps back up).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from charkeras.config import TrainConfig

ANCHOR_VARIABLE = "schedule_anchor"


class AnchoredSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Cosine or exponential decay from `peak` to `peak * alpha` over the anchor's steps, after
    `warmup_steps` linear steps from 0 (cosine only). The anchor is set by `attach_anchor`."""

    def __init__(self, kind: str, peak: float, alpha: float, warmup_steps: int = 0):
        self.kind = kind
        self.peak = float(peak)
        self.alpha = float(alpha)
        self.warmup_steps = int(warmup_steps)
        self.anchor = None  # a float64 variable (anchor_step, anchor_progress, total_steps)

    def progress(self, step):
        a = tf.cast(self.anchor, tf.float64)
        step = tf.cast(step, tf.float64)
        p = a[1] + (1.0 - a[1]) * (step - a[0]) / tf.maximum(a[2] - a[0], 1.0)
        return tf.clip_by_value(tf.where(step < a[0], a[1], p), 0.0, 1.0)

    def __call__(self, step):
        p = self.progress(step)
        if self.kind == "cosine":
            factor = self.alpha + (1.0 - self.alpha) * 0.5 * (1.0 + tf.cos(math.pi * p))
        else:
            factor = tf.pow(tf.constant(max(self.alpha, 1e-9), tf.float64), p)
        lr = self.peak * factor
        if self.warmup_steps:
            fraction = tf.cast(step, tf.float64) / self.warmup_steps
            lr = tf.where(fraction < 1.0, self.peak * fraction, lr)
        return tf.cast(lr, tf.float32)

    def get_config(self):
        return {"kind": self.kind, "peak": self.peak, "alpha": self.alpha,
                "warmup_steps": self.warmup_steps}


def initial_anchor(cfg: TrainConfig, total_steps: int) -> np.ndarray:
    """The anchor of a run that decays over steps [warmup, total) (cosine warms up first)."""
    start = cfg.warmup_steps if cfg.lr_schedule == "cosine" else 0
    return np.array([start, 0.0, max(total_steps, start + 1)], np.float64)


def make_optimizer(cfg: TrainConfig, total_steps: int):
    """The run's optimizer; its schedule spans `cfg.schedule_steps` (when a resume pinned it) or
    `total_steps`, and holds its final learning rate after that. Every optimizer carries the
    anchor variable (a constant learning rate too: it records the plan's length)."""
    schedule_steps = cfg.schedule_steps or total_steps
    schedule = None
    if cfg.lr_schedule in ("cosine", "exponential"):
        schedule = AnchoredSchedule(cfg.lr_schedule, cfg.learning_rate, cfg.min_lr_frac,
                                    cfg.warmup_steps if cfg.lr_schedule == "cosine" else 0)
    lr = schedule if schedule is not None else cfg.learning_rate
    if cfg.optimizer == "adamw":
        optimizer = keras.optimizers.AdamW(lr, weight_decay=cfg.weight_decay, clipnorm=cfg.clipnorm)
    elif cfg.optimizer == "rmsprop":
        optimizer = keras.optimizers.RMSprop(lr, clipnorm=cfg.clipnorm)
    else:
        optimizer = keras.optimizers.Adam(lr, clipnorm=cfg.clipnorm)
    start = initial_anchor(cfg, schedule_steps)
    anchor = optimizer.add_variable(shape=(3,), initializer=lambda shape, dtype: start,
                                    dtype="float64", name=ANCHOR_VARIABLE)
    if schedule is not None:
        schedule.anchor = anchor
    return optimizer


def anchor_variable(optimizer):
    return next(v for v in optimizer.variables if v.name == ANCHOR_VARIABLE)


def schedule_total(optimizer) -> int:
    """The total steps of the schedule (the plan) in force: what a checkpoint restored."""
    return round(float(np.asarray(anchor_variable(optimizer))[2]))


def replan(optimizer, step: int, total_steps: int) -> None:
    """Spread the rest of the schedule over steps [step, total_steps), keeping its progress at
    `step` (before the warm-up's end: the decay still starts there, and only its end moves)."""
    variable = anchor_variable(optimizer)
    anchor_step, anchor_progress, total = (float(x) for x in np.asarray(variable))
    at = max(float(step), anchor_step)
    if at > anchor_step:
        anchor_progress = min(1.0, anchor_progress + (1.0 - anchor_progress)
                              * (at - anchor_step) / max(total - anchor_step, 1.0))
    variable.assign(np.array([at, anchor_progress, max(float(total_steps), at + 1.0)], np.float64))
