"""The optimizer and learning-rate schedule of a run, built from its TrainConfig."""

from __future__ import annotations

import keras

from charkeras.config import TrainConfig


def make_lr_schedule(cfg: TrainConfig, total_steps: int):
    schedules = keras.optimizers.schedules
    decay_steps = max(total_steps - cfg.warmup_steps, 1)
    if cfg.lr_schedule == "cosine":
        if cfg.warmup_steps:
            return schedules.CosineDecay(0.0, decay_steps, alpha=cfg.min_lr_frac,
                                         warmup_target=cfg.learning_rate, warmup_steps=cfg.warmup_steps)
        return schedules.CosineDecay(cfg.learning_rate, decay_steps, alpha=cfg.min_lr_frac)
    if cfg.lr_schedule == "exponential":
        return schedules.ExponentialDecay(cfg.learning_rate, decay_steps, decay_rate=max(cfg.min_lr_frac, 1e-9))
    return cfg.learning_rate


def make_optimizer(cfg: TrainConfig, total_steps: int):
    """The run's optimizer; its schedule spans `cfg.schedule_steps` (when a resume pinned it) or
    `total_steps`, and holds its final learning rate after that (cosine does by itself)."""
    schedule_steps = cfg.schedule_steps or total_steps
    lr = make_lr_schedule(cfg, schedule_steps)
    if cfg.schedule_steps and cfg.lr_schedule == "exponential":
        lr = HeldAfter(lr, schedule_steps)
    if cfg.optimizer == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=cfg.weight_decay, clipnorm=cfg.clipnorm)
    if cfg.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(lr, clipnorm=cfg.clipnorm)
    return keras.optimizers.Adam(lr, clipnorm=cfg.clipnorm)


class HeldAfter(keras.optimizers.schedules.LearningRateSchedule):
    """`schedule` up to step `last`, then its value at `last` (the final learning rate) for good.
    Within its steps it is the same computation as `schedule`, so it changes no run that ends there."""

    def __init__(self, schedule, last: int):
        self.schedule, self.last = schedule, int(last)

    def __call__(self, step):
        return self.schedule(keras.ops.minimum(step, self.last))

    def get_config(self):
        return {"schedule": keras.optimizers.schedules.serialize(self.schedule), "last": self.last}

    @classmethod
    def from_config(cls, config):
        return cls(keras.optimizers.schedules.deserialize(config["schedule"]), config["last"])
