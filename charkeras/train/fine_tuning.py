"""A run started from a base model (`fit --init-from MODEL`): its shape, its defaults, its
vocabulary and its first weights. No TensorFlow here.

The caller loads the base (`charkeras.runtime.base_loading.load_base`, through
`charkeras.runtime.fitting`) and gives it to the driver: training does not depend on the loaders.
A fine-tuned run is otherwise a normal run: its config.json records `init_from`, its run.json the
base's lineage, and its checkpoints hold everything a resume needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charkeras.config import (
    FINE_TUNE_FIELDS,
    FINE_TUNE_LAYOUT,
    FINE_TUNE_LR,
    FINE_TUNE_WARMUP,
    CharConfig,
)
from charkeras.errors import ConfigError, RunDirError
from charkeras.model.vocab_transfer import (
    NEW_ROW_INIT,
    SHAPE_FIELDS,
    BaseModel,
    MergedVocabulary,
    merge_vocabularies,
    remap_ids,
    start_weights,
)
from charkeras.text.id_cache import Corpus
from charkeras.text.vocabulary import Vocabulary
from charkeras.train.sizing import fits_training

_DEFAULTED = {"model": (*SHAPE_FIELDS, "dropout"), "data": ("batch_size", "seq_len"),
              "train": FINE_TUNE_FIELDS}


def left_at_defaults(config: CharConfig) -> tuple[str, ...]:
    """The fields a fine-tuned run may choose (shape, dropout, layout, learning rate, warm-up) that
    `config` leaves at their defaults: what a Python caller's config did not set."""
    default = CharConfig()
    return tuple(name for section, names in _DEFAULTED.items() for name in names
                 if getattr(getattr(config, section), name)
                 == getattr(getattr(default, section), name))


@dataclass(frozen=True)
class FineTuneChoice:
    config: CharConfig
    auto: set[str]  # the layout fields still to choose from the corpus (`sizing.choose_sizes`)
    notes: list[str]  # what was chosen and why, printed by fit


def fine_tune_config(config: CharConfig, base: BaseModel, auto, n_train: int,
                     n_val: int) -> FineTuneChoice:
    """The run's config: the base's shape, and the fine-tuning defaults for the fields in `auto`.

    A shape field given (not in `auto`) with another value than the base's is a ConfigError."""
    auto = set(auto)
    conflicts = base.shape_conflicts(config.model, set(SHAPE_FIELDS) - auto)
    if conflicts:
        raise ConfigError(f"--init-from takes the base's shape, but {'; '.join(conflicts)}: "
                          "leave these options out")
    model = base.shape()
    if "dropout" in auto:
        model["dropout"] = base.model.dropout
    train = {name: value for name, value in (("learning_rate", FINE_TUNE_LR),
                                             ("warmup_steps", FINE_TUNE_WARMUP)) if name in auto}
    config = config.replace(model=model, train=train)
    chosen = [f"{name.replace('_', ' ')} {value}" for name, value in model.items()]
    chosen += [f"{flag} {value:g}" for flag, value in
               zip(("--lr", "--warmup-steps"), train.values())]
    layout = auto & {"batch_size", "seq_len"}
    b, t = FINE_TUNE_LAYOUT
    if layout == {"batch_size", "seq_len"} and fits_training(n_train, n_val, b, t):
        config, layout = config.replace(data={"batch_size": b, "seq_len": t}), set()
        chosen.append(f"--batch-size {b} --seq-len {t}")
    note = (f"fine-tuning from {base.lineage.get('path')}: {', '.join(chosen)}; a new optimizer, "
            "no layer frozen (the base's shape and dropout; the fine-tuning defaults, measured in "
            "docs/guides/fine-tuning.md; pass an option to choose it)")
    return FineTuneChoice(config.validate(), layout, [note])


def merged_corpus(corpus: Corpus, base: BaseModel) -> tuple[Corpus, MergedVocabulary]:
    """`corpus` in the merged vocabulary: the base's ids kept, the corpus's new characters after."""
    merged = merge_vocabularies(base.vocab, corpus.vocab)
    return _encoded(corpus, merged.vocab), merged


def resumed_corpus(corpus: Corpus, vocab: Vocabulary, base: BaseModel | None):
    """A fine-tuned run's corpus on a resume, in the run's vocabulary (vocab.json); with `base`
    (given when the run has no checkpoint yet) also the merge its first weights need, which must
    be the run's own vocabulary."""
    merged = None
    if base is not None:
        merged = merge_vocabularies(base.vocab, corpus.vocab)
        if merged.vocab != vocab:
            raise RunDirError("the base this run started from has changed since (its vocabulary "
                              "differs): start the run again with --force")
    missing = set(corpus.vocab.chars) - set(vocab.chars)
    if missing:
        raise RunDirError(f"the corpus has characters the run's vocabulary lacks "
                          f"({''.join(sorted(missing))!r}): resume with the original text")
    return _encoded(corpus, vocab), merged


def _encoded(corpus: Corpus, vocab: Vocabulary) -> Corpus:
    if vocab == corpus.vocab:
        return corpus
    return Corpus(ids=remap_ids(corpus.ids, corpus.vocab, vocab), vocab=vocab,
                  sha256=corpus.sha256, source=corpus.source)


def first_weights(base: BaseModel, merged: MergedVocabulary, train_ids: np.ndarray,
                  seed: int) -> dict[str, list[np.ndarray]]:
    """The run's starting weights: the base's, with rows for the characters it never saw."""
    return start_weights(base, merged, train_ids, seed)


def lineage(base: BaseModel, merged: MergedVocabulary) -> dict:
    """run.json's record of the base: where it is, what it was (sha256 of its weights, its
    validation loss) and how the run's vocabulary grew from it."""
    return {**base.lineage, "new_rows": NEW_ROW_INIT, "added_chars": len(merged.added)}
