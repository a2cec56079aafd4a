"""The Keras callback that makes stateful training correct and observable.

One callback, because its jobs share the carried LSTM state and the step counter:
- resets the states at every epoch start (or restores them once when resuming mid-epoch);
- runs validation at epoch end (and every `val_every` steps) with the training states set aside,
  so validation never leaks its state into training;
- prints a generated sample every `sample_every` steps, the "evolution of samples";
- writes checkpoints every `checkpoint_every` steps and at every epoch end, keeps the last K and the
  best by validation loss;
- stops with a clear message when the loss turns NaN or explodes.
- rebuilds the run's report.html and loss.png at every epoch end (charkeras.report).
It must come first in the callback list: it adds val_loss, bpc and lr to the logs that CSV and
TensorBoard loggers then record.
"""

from __future__ import annotations

import json
import math
import time

import keras
import numpy as np

from charkeras.checkpoint import (
    CheckpointMeta,
    copy_as_best,
    prune_checkpoints,
    read_meta,
    save_checkpoint,
)
from charkeras.errors import TrainingDiverged
from charkeras.model import get_states, reset_states, set_states, step_model_from, transfer_weights
from charkeras.report import update_report

LN2 = math.log(2.0)


class StatefulTraining(keras.callbacks.Callback):
    def __init__(self, *, run, config, layout, val_ds, vocab, prime_id, start: CheckpointMeta,
              resume_states, verbose):
        super().__init__()
        self.run, self.config, self.layout = run, config, layout
        self.val_ds, self.vocab, self.prime_id = val_ds, vocab, prime_id
        self.verbose = verbose
        self.resume_states = resume_states
        self.seconds_before = start.train_seconds
        self.last_val_loss = start.val_loss
        best = run.best_checkpoint()
        self.best_val_loss = read_meta(best)["val_loss"] if best else math.inf
        self.stashed_states = None  # training states while a validation pass borrows the model
        self._eval_fn = None
        self._sampler = None
        self.started = None

    # ---- Keras hooks -------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self.started = time.monotonic()

    def on_train_end(self, logs=None):
        # A resumed run calls fit twice (rest of the interrupted epoch, then the others): keep a sum.
        self.seconds_before = self.train_seconds()
        self.started = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.resume_states is not None:
            set_states(self.model, self.resume_states)
            self.resume_states = None
        else:
            reset_states(self.model)

    def on_train_batch_end(self, batch, logs=None):
        step = self.step
        loss = (logs or {}).get("loss")
        if loss is not None and (not np.isfinite(loss) or loss > self.config.train.max_loss):
            latest = self.run.latest_checkpoint()
            raise TrainingDiverged(
                f"training loss {'became ' + str(loss) if not np.isfinite(loss) else f'exploded to {loss:.2f}'} "
                f"at step {step}; last good checkpoint: {latest or 'none'}; lower --lr or --clipnorm and "
                f"resume with: charkeras fit --resume {self.run.path}"
            )
        mid_epoch = step % self.layout.batches != 0  # epoch-end work happens in on_epoch_end
        cfg = self.config.train
        if mid_epoch and cfg.val_every and step % cfg.val_every == 0:
            self.last_val_loss = self.validate()
            if self.verbose:
                print(f"\nstep {step}: val loss {self.last_val_loss:.4f} nats/char "
                      f"({self.last_val_loss / LN2:.4f} bpc)")
        if mid_epoch and cfg.sample_every and step % cfg.sample_every == 0:
            self.sample(step)
        if mid_epoch and cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            self.save(reason="periodic")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        self.last_val_loss = self.validate()
        logs["val_loss"] = self.last_val_loss
        logs["val_bpc"] = self.last_val_loss / LN2
        if "loss" in logs:
            logs["bpc"] = logs["loss"] / LN2
        logs["lr"] = float(np.asarray(self.model.optimizer.learning_rate))
        if self.verbose:
            print(f"\nepoch {epoch + 1}: val loss {self.last_val_loss:.4f} nats/char "
                  f"({logs['val_bpc']:.4f} bpc)")
        self.sample(self.step)
        self.save(reason="epoch")
        # The CSV logger writes this epoch's row after us, so the report gets it directly.
        update_report(self.run.path, latest_epoch={"epoch": epoch, **logs})

    # ---- work ----------------------------------------------------------------------------------
    @property
    def step(self) -> int:
        return int(self.model.optimizer.iterations.numpy())

    def train_seconds(self) -> float:
        running = time.monotonic() - self.started if self.started is not None else 0.0
        return self.seconds_before + running

    def validate(self) -> float:
        """Mean validation loss (nats/char) from a zero state; the training states are put back after."""
        import tensorflow as tf

        if self._eval_fn is None:
            model = self.model

            @tf.function
            def eval_fn(x, y):
                logits = model(x, training=False)
                losses = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
                return tf.reduce_sum(losses), tf.size(losses)

            self._eval_fn = eval_fn
        self.stashed_states = get_states(self.model)
        try:
            reset_states(self.model)
            total, count = 0.0, 0
            for x, y in self.val_ds:
                s, n = self._eval_fn(x, y)
                total, count = total + float(s), count + int(n)
        finally:
            set_states(self.model, self.stashed_states)
            self.stashed_states = None
        return total / count

    def sample(self, step: int) -> str:
        from charkeras.loop_step import loop_step_fn
        from charkeras.sampling import generate_ids

        cfg = self.config
        if self._sampler is None:
            import tensorflow as tf

            step_model = step_model_from(self.model, cfg.model)

            @tf.function
            def sampler(prime, seed):
                state = tf.zeros([1, 2 * cfg.model.layers, cfg.model.units])
                step_fn = loop_step_fn(step_model, cfg.model.layers)
                return generate_ids(step_fn, prime, state, cfg.train.sample_len,
                                    cfg.train.sample_temperature, 0, seed)

            self._sampler = (step_model, sampler)
        step_model, sampler = self._sampler
        transfer_weights(self.model, step_model, cfg.model)
        ids = sampler(np.array([[self.prime_id]], np.int32), np.array([cfg.train.seed, step], np.int32))
        text = self.vocab.decode(ids.numpy()[0])
        if self.verbose:
            print(f"\n----- sample at step {step} -----\n{text}\n-----")
        with open(self.run.path / "samples.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps({"step": step, "val_loss": self.last_val_loss, "text": text},
                               ensure_ascii=False) + "\n")
        return text

    def save(self, reason: str):
        """Write a checkpoint at the current step; returns its path."""
        step = self.step
        states = self.stashed_states if self.stashed_states is not None else get_states(self.model)
        meta = CheckpointMeta(step=step, val_loss=self.last_val_loss, train_seconds=self.train_seconds())
        path = self.run.checkpoints / f"ckpt-{step:09d}"
        save_checkpoint(path, self.model, self.model.optimizer, states, meta, self.config)
        if reason == "epoch" and self.last_val_loss is not None and self.last_val_loss < self.best_val_loss:
            self.best_val_loss = self.last_val_loss
            copy_as_best(path, self.run)
        prune_checkpoints(self.run, self.config.train.keep_checkpoints)
        return path
