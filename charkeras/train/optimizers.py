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
    lr = make_lr_schedule(cfg, total_steps)
    if cfg.optimizer == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=cfg.weight_decay, clipnorm=cfg.clipnorm)
    if cfg.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(lr, clipnorm=cfg.clipnorm)
    return keras.optimizers.Adam(lr, clipnorm=cfg.clipnorm)
