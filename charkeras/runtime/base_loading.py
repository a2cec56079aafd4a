"""A base model for a new run to start from (`BaseModel`): a training run's checkpoint or an export.

It is read through the loaders `charkeras export` and `load` use (`inference_model_from_run`,
`inference_model_from_export`), so a base is exactly what would generate; only its weights, shape,
vocabulary and lineage are kept.
"""

from __future__ import annotations

import os
from pathlib import Path

from charkeras.artifact.layout import model_kind, version_dir
from charkeras.exporting.from_export import inference_model_from_export
from charkeras.model.vocab_transfer import BaseModel
from charkeras.model.weights import layer_weights
from charkeras.text.reading import sha256_of_files
from charkeras.train.run.checkpoints import read_meta
from charkeras.train.run.loading import inference_model_from_run
from charkeras.train.run.names import VARIABLES_FILE


def load_base(path, checkpoint: str | os.PathLike = "best") -> BaseModel:
    """The base model in `path`; `checkpoint` ("best", "latest" or a checkpoint directory) picks a
    training run's checkpoint and is ignored for an export. Errors are ModelLoadError (one line).

    Lineage: path (absolute), kind ("run" or "export"), weights_sha256 (of the checkpoint's
    variables
    file, or of the SavedModel's variables directory), val_loss (the checkpoint's, or the card's;
    None when not recorded), and checkpoint + step for a run or exported_at for an export."""
    kind, base = model_kind(path)
    if kind == "run":
        model, config, vocab, chosen = inference_model_from_run(base, checkpoint)
        meta = read_meta(chosen)
        lineage = {"kind": "run", "path": str(Path(base).resolve()),
                   "checkpoint": Path(chosen).name,
                   "step": meta["step"], "val_loss": meta["val_loss"],
                   "weights_sha256": sha256_of_files(Path(chosen) / VARIABLES_FILE,
                                                     [Path(chosen) / VARIABLES_FILE])}
    else:
        model, config, vocab, card = inference_model_from_export(base)
        variables = version_dir(base, card) / "variables"
        lineage = {"kind": "export", "path": str(Path(base).resolve()),
                   "exported_at": card.get("exported_at"),
                   "val_loss": (card.get("training") or {}).get("val_loss"),
                   "weights_sha256": sha256_of_files(variables, sorted(variables.iterdir()))}
    return BaseModel(config.model, vocab, layer_weights(model, config.model), lineage)
