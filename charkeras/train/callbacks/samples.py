"""Generated samples during training (the "evolution of samples"), printed and kept in samples.jsonl."""

from __future__ import annotations

import json

import keras
import numpy as np

from charkeras.model.networks import zero_state
from charkeras.model.numpy_step import NumpyStep
from charkeras.sampling.numpy_sampler import generate_ids_numpy
from charkeras.train.callbacks.progress import TrainingProgress, current_step, every


class SamplePrinter(keras.callbacks.Callback):
    """A sample every `sample_every` steps and at epoch ends, seeded by (seed, step)."""

    def __init__(self, progress: TrainingProgress, vocab, prime_id: int):
        super().__init__()
        self.progress, self.vocab, self.prime_id = progress, vocab, prime_id

    def on_train_batch_end(self, batch, logs=None):
        step = current_step(self.model)
        if every(step, self.progress.config.train.sample_every, self.progress):
            self.sample(step)

    def on_epoch_end(self, epoch, logs=None):
        step, interval = current_step(self.model), self.progress.config.train.sample_every
        batches = self.progress.layout.batches
        # Epochs shorter than `sample_every` (a small corpus): one epoch-end sample per `sample_every`
        # steps, not one per epoch, or the samples would bury everything else. Decided from the step
        # alone (the first epoch end, then epoch ends on a multiple of the interval; the periodic samples
        # cover the other intervals), so a resumed run samples exactly where an unbroken one does.
        if interval and batches < interval and step % interval != 0 and step != batches:
            return
        self.sample(step)

    def sample(self, step: int) -> str:
        cfg = self.progress.config
        # numpy, not a traced TensorFlow sampler: nothing to trace at the first epoch end (1.5 s before).
        step_fn = NumpyStep.from_model(self.model, cfg.model.layers)
        ids = generate_ids_numpy(step_fn, np.array([[self.prime_id]], np.int32), zero_state(cfg.model, 1),
                                 cfg.train.sample_len, cfg.train.sample_temperature, 0, (cfg.train.seed, step))
        text = self.vocab.decode(ids[0])
        if self.progress.verbose:
            print(f"\n----- sample at step {step} -----\n{text}\n-----")
        with open(self.progress.run.path / "samples.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps({"step": step, "val_loss": self.progress.last_val_loss, "text": text},
                               ensure_ascii=False) + "\n")
        return text
