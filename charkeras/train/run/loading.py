"""An inference model with the weights of one checkpoint of a training run."""

from __future__ import annotations

import os
from pathlib import Path

from charkeras.errors import ModelLoadError
from charkeras.model.networks import build_training_model
from charkeras.model.weights import inference_model_from
from charkeras.train.run.checkpoints import load_checkpoint
from charkeras.train.run.directory import RunDir
from charkeras.train.run.names import META_FILE


def choose_checkpoint(run: RunDir, checkpoint: str | os.PathLike = "best") -> Path:
    """"best" (else the latest), "latest", or the path of one checkpoint directory."""
    if checkpoint == "best":
        chosen = run.best_checkpoint() or run.latest_checkpoint()
    elif checkpoint == "latest":
        chosen = run.latest_checkpoint()
    else:
        chosen = Path(checkpoint)
        if not (chosen / META_FILE).is_file():
            raise ModelLoadError(f"{chosen} is not a checkpoint directory (no {META_FILE})")
    if chosen is None:
        raise ModelLoadError(f"{run.path} has no checkpoint yet: train it first (charkeras fit)")
    return Path(chosen)


def inference_model_from_run(run_path, checkpoint: str | os.PathLike = "best"):
    """(inference model, config, vocab, checkpoint path) of one checkpoint of the run in
    `run_path`."""
    run = RunDir(run_path)
    config = run.read_config()
    # a vocabulary that does not fit the weights: error
    vocab = run.read_vocab(config.model.vocab_size)
    chosen = choose_checkpoint(run, checkpoint)
    # The training model is built only to read the checkpoint; its batch size matches the one saved.
    training = build_training_model(config.model, config.data.batch_size, seed=config.train.seed)
    load_checkpoint(chosen, training)
    return inference_model_from(training, config.model), config, vocab, chosen
