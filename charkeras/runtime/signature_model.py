"""The SavedModel runtime: the contract's signatures, loaded from an export or built in memory for a
training run (the very functions an export would contain, charkeras/exporting/signatures.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from charkeras.artifact.layout import version_dir
from charkeras.artifact.schema import check_model_fits_card
from charkeras.errors import ModelLoadError
from charkeras.exporting.signatures import signature_functions
from charkeras.runtime.char_model import CharModel
from charkeras.runtime.chunk_scoring import (
    inference_weights,
    sequence_chunk_scorer,
    step_chunk_scorer,
)
from charkeras.sampling.graph_sampler import generate_ids
from charkeras.text.vocabulary import Vocabulary
from charkeras.train.run.loading import inference_model_from_run


class SignatureCharModel(CharModel):
    """Runs the contract's signatures: loaded from a SavedModel, or in memory for a training run."""

    def __init__(self, functions: dict, vocab, layers, units, card=None, path=None,
                 runtime="savedmodel", variables=()):
        super().__init__(vocab, layers, units, card, path)
        self.functions = functions
        self.variables = variables  # the inference model's weights, for the fast chunk scorer
        self.runtime = runtime
        self._batched = None
        self._chunk_scorer = None

    def _step(self, char_ids, state):
        out = self.functions["step"](char_id=tf.constant(np.asarray(char_ids, np.int32)),
                                     state=tf.constant(np.asarray(state, np.float32)))
        return out["logits"].numpy(), out["state"].numpy()

    def score_chunk(self, x, y, mask, state):
        """A [B, T] chunk of parallel streams in one graph (charkeras/inspect/stream_scoring.py)."""
        if self._chunk_scorer is None:
            weights = inference_weights(self.variables, self.layers)
            self._chunk_scorer = (sequence_chunk_scorer(weights, self.layers) if weights is not None
                                  else step_chunk_scorer(self.functions["step"], self.layers,
                                                         self.units))
        total, state = self._chunk_scorer(tf.constant(x), tf.constant(y), tf.constant(mask),
                                          tf.constant(state))
        return float(total.numpy()), state

    def score(self, text: str) -> tuple[float, int]:
        self.warn_unknown(text)
        out = self.functions["score"](text=tf.constant(text))
        return float(out["nll"].numpy()), int(out["count"].numpy())

    def _generate(self, n, prime, temperature, top_k, seed, num_samples):
        if num_samples > 1:
            return super()._generate(n, prime, temperature, top_k, seed, num_samples)
        out = self.functions["generate"](
            prompt=tf.constant(prime), num_chars=tf.constant(n, tf.int32),
            temperature=tf.constant(temperature, tf.float32), top_k=tf.constant(top_k, tf.int32),
            seed=tf.constant([seed, 0], tf.int32))
        return [out["text"].numpy().decode("utf-8")]

    def _generate_ids(self, prime_ids, n, temperature, top_k, seed):
        """Many samples in one batch: the same in-graph sampler as `generate`, around the `step`
        signature."""
        if self._batched is None:
            self._batched = batched_generator(self.functions["step"], self.layers, self.units)
        state = self.zero_state(len(prime_ids))
        ids = self._batched(tf.constant(prime_ids, tf.int32), tf.constant(state),
                            tf.constant(n, tf.int32),
                            tf.constant(temperature, tf.float32), tf.constant(top_k, tf.int32),
                            tf.constant([seed, 0], tf.int32))
        return ids.numpy()


def batched_generator(step, layers: int, units: int):
    """A tf.function (prime [B, P], state, n, temperature, top_k, seed) -> ids [B, n] over a `step`
    fn."""
    def step_fn(ids, state):
        out = step(char_id=ids, state=state)
        return out["logits"], out["state"]

    @tf.function(input_signature=[
        tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, 2 * layers, units], tf.float32),
        tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.int32),
        tf.TensorSpec([2], tf.int32),
    ])
    def run(prime, state, n, temperature, top_k, seed):
        return generate_ids(step_fn, prime, state, n, temperature, top_k, seed)

    return run


def load_saved_model(base: Path, card: dict, vocab: Vocabulary) -> CharModel:
    """The export in `base` through its SavedModel (the highest version directory)."""
    directory = version_dir(base, card)
    try:
        loaded = tf.saved_model.load(str(directory))
        functions = {name: loaded.signatures[name] for name in ("generate", "step", "score")}
    except (LookupError, OSError, ValueError, tf.errors.OpError) as exc:
        # truncated variables: IndexError
        first_line = (str(exc).strip().splitlines() or [repr(exc)])[0]
        raise ModelLoadError(f"cannot load the SavedModel in {directory}: {first_line}") from None
    outputs = functions["step"].structured_outputs
    check_model_fits_card(str(directory), len(vocab), card["layers"], card["units"],
                          outputs["logits"].shape, outputs["state"].shape)
    model = SignatureCharModel(functions, vocab, card["layers"], card["units"], card, base,
                               variables=functions["step"].variables)
    model.loaded = loaded  # the signatures' variables live as long as this object
    return model


def load_run(path: Path, checkpoint: str) -> CharModel:
    """A training run's checkpoint in memory, running the signatures its export would have."""
    inference, config, vocab, chosen = inference_model_from_run(path, checkpoint)
    functions = signature_functions(inference, vocab, config.model.layers, config.model.units)
    model = SignatureCharModel(functions, vocab, config.model.layers, config.model.units, None,
                               path, "run", variables=inference.weights)
    model.checkpoint = chosen
    return model
