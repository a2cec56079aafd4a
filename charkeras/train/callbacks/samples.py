"""Generated samples during training (the "evolution of samples"), printed and kept in the run's
SAMPLES_FILE (`run.logs.append_sample`)."""

from __future__ import annotations

import keras
import numpy as np

from charkeras.model.networks import zero_state
from charkeras.model.numpy_step import NumpyStep
from charkeras.sampling.numpy_sampler import generate_ids_numpy
from charkeras.train.callbacks.progress import TrainingProgress, current_step
from charkeras.train.run.logs import append_sample


class SamplePrinter(keras.callbacks.Callback):
    """A sample on the run's cadence (`progress.samples`: every `sample_every` steps, else by the
    clock) and at epoch ends, seeded by (seed, step)."""

    def __init__(self, progress: TrainingProgress, vocab, prime_id: int):
        super().__init__()
        self.progress, self.vocab, self.prime_id = progress, vocab, prime_id

    def on_train_begin(self, logs=None):
        self.progress.samples.start()

    def on_train_batch_end(self, batch, logs=None):
        step = self.progress.step
        if self.progress.samples.due(step, self.progress.layout.batches):
            self.sample(step)

    def on_epoch_end(self, epoch, logs=None):
        step, interval = current_step(self.model), self.progress.config.train.sample_every
        batches = self.progress.layout.batches
        # Epochs shorter than `sample_every` (a small corpus): one epoch-end sample per
        # `sample_every` steps, not one per epoch, or the samples would bury everything else.
        # Decided from the step alone (the first epoch end, then epoch ends on a multiple of the
        # interval; the periodic samples cover the other intervals), so a resumed run samples
        # exactly where an unbroken one does.
        if interval and batches < interval and step % interval != 0 and step != batches:
            return
        # By the clock: the first epoch end, then those the clock says are due.
        samples = self.progress.samples
        if samples.by_time and step != batches and not samples.by_time_due():
            return
        self.sample(step)

    def sample(self, step: int) -> str:
        with self.progress.work.timing("sample"):
            text = self._sample(step)
        self.progress.samples.done(self.progress.work.latest["sample"])
        return text

    def _sample(self, step: int) -> str:
        cfg = self.progress.config
        # numpy, not a traced TensorFlow sampler: nothing to trace at the first epoch end (1.5 s
        # before).
        step_fn = NumpyStep.from_model(self.model, cfg.model.layers)
        ids = generate_ids_numpy(step_fn, np.array([[self.prime_id]], np.int32),
                                 zero_state(cfg.model, 1),
                                 cfg.train.sample_len, cfg.train.sample_temperature, 0,
                                 (cfg.train.seed, step))
        text = self.vocab.decode(ids[0])
        if self.progress.verbose:
            print(f"\n----- sample at step {step} -----\n{text}\n-----")
        append_sample(self.progress.run.path, step, self.progress.last_val_loss, text)
        return text
