"""charkeras: character-level LSTM language models with Keras, exported to TF Serving and LiteRT.

Importing the package is cheap: TensorFlow loads on first use of a function that needs it. The
package is laid out by stage of the data flow (docs/ARCHITECTURE.md): text -> data -> model -> train
-> exporting -> runtime -> inspect.
"""

import os

__version__ = "0.1.0"

# TensorFlow's C++ start-up and device chatter (cuInit failures on a machine without a GPU, CPU
# feature notes, oneDNN fallbacks) is not for a library's user; set before anything imports
# TensorFlow, and only when the user has not chosen a level. The lines logged while TensorFlow
# loads, before absl reads the level, are filtered from its first import (`native_chatter`).
if "TF_CPP_MIN_LOG_LEVEL" not in os.environ:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    from charkeras.native_chatter import quiet_tensorflow_import

    quiet_tensorflow_import()

__all__ = [
    "CharConfig",
    "CharModel",
    "CharkerasError",
    "DataConfig",
    "ModelConfig",
    "TrainConfig",
    "Vocabulary",
    "__version__",
    "export",
    "fit",
    "load",
    "load_corpus",
]

_LAZY = {
    "CharConfig": "charkeras.config",
    "DataConfig": "charkeras.config",
    "ModelConfig": "charkeras.config",
    "TrainConfig": "charkeras.config",
    "CharkerasError": "charkeras.errors",
    "Vocabulary": "charkeras.text.vocabulary",
    "fit": "charkeras.runtime.fitting",
    "load": "charkeras.runtime.loading",
    "export": "charkeras.exporting.writer",
    "CharModel": "charkeras.runtime.char_model",
    "load_corpus": "charkeras.text.id_cache",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'charkeras' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
