"""Writing the SavedModel of an export with keras.export.ExportArchive."""

from __future__ import annotations

from pathlib import Path

import keras

from charkeras.exporting.signatures import signature_functions
from charkeras.text.vocabulary import Vocabulary


def write_saved_model(inference_model, vocab: Vocabulary, layers: int, units: int,
                      path: Path) -> None:
    fns = signature_functions(inference_model, vocab, layers, units)
    archive = keras.export.ExportArchive()
    # Only the lookup layer is tracked: tracking the inference model too would store every weight
    # twice (keras-team/keras#23553: the keras.Variable wrappers and the tf.Variables the endpoints
    # capture). The endpoints' captured variables are saved on their own.
    archive.track(fns["vectorize"])
    # The first endpoint also becomes serving_default.
    for name in ("generate", "step", "score", "vocabulary"):
        archive.add_endpoint(name, fns[name])
    archive.write_out(str(path), verbose=False)
