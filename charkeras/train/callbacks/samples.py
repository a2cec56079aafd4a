"""Generated samples during training (the "evolution of samples"), printed and kept in samples.jsonl."""

from __future__ import annotations

import json

import keras
import numpy as np
import tensorflow as tf

from charkeras.model.step_functions import written_out_step_fn
from charkeras.model.weights import inference_model_from, transfer_weights
from charkeras.sampling.graph_sampler import generate_ids
from charkeras.train.callbacks.progress import TrainingProgress, current_step, every


class SamplePrinter(keras.callbacks.Callback):
    """A sample every `sample_every` steps and at epoch ends, seeded by (seed, step)."""

    def __init__(self, progress: TrainingProgress, vocab, prime_id: int):
        super().__init__()
        self.progress, self.vocab, self.prime_id = progress, vocab, prime_id
        self._sampler = None

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
        if self._sampler is None:
            inference = inference_model_from(self.model, cfg.model)

            @tf.function
            def sampler(prime, seed):
                state = tf.zeros([1, 2 * cfg.model.layers, cfg.model.units])
                step_fn = written_out_step_fn(inference, cfg.model.layers)
                return generate_ids(step_fn, prime, state, cfg.train.sample_len,
                                    cfg.train.sample_temperature, 0, seed)

            self._sampler = (inference, sampler)
        inference, sampler = self._sampler
        transfer_weights(self.model, inference, cfg.model)
        ids = sampler(np.array([[self.prime_id]], np.int32), np.array([cfg.train.seed, step], np.int32))
        text = self.vocab.decode(ids.numpy()[0])
        if self.progress.verbose:
            print(f"\n----- sample at step {step} -----\n{text}\n-----")
        with open(self.progress.run.path / "samples.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps({"step": step, "val_loss": self.progress.last_val_loss, "text": text},
                               ensure_ascii=False) + "\n")
        return text
