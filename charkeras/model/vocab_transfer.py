"""Starting a run from a base model's weights on a new corpus: the merged vocabulary and the grown
embedding and output layers.

The merged vocabulary keeps the base model's ids (its characters first, in its order, so every row
it learned stays where it was), then appends the corpus's characters the base never saw, most
frequent first. Base characters the corpus lacks stay: a fine-tuned model still knows them. The
layout stays TextVectorization's (0 padding, 1 unknown), so a merged `Vocabulary` encodes, caches
and exports like any other.

New characters get an embedding row and an output unit (a column of the logits kernel and a bias).
`grow_weights` starts a new row as the average known character, with a bias that makes its first
predicted probability about its frequency in the training text, so no new character starts either
certain or impossible.
The run records the init's name in its lineage (run.json's `base.new_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charkeras.config import ModelConfig
from charkeras.errors import CorpusError, ModelLoadError
from charkeras.text.vocabulary import UNK_ID, Vocabulary

# The id cache's widest dtype bounds the tokens, as Vocabulary.from_counts checks.
_MAX_TOKENS = np.iinfo(np.uint16).max
_REMAP_CHUNK = 1 << 24  # ids remapped at a time, to bound the temporaries on a large corpus
SHAPE_FIELDS = ("layers", "units", "embedding_dim")

# How new rows start, the name a run records: embedding row = mean of the base's character rows +
# noise (0.1 x their std); logits column = mean of the base's columns; bias = log(frequency in the
# training text) + the base's median offset between its biases and its characters' log-frequencies.
NEW_ROW_INIT = "frequency"


@dataclass(frozen=True)
class BaseModel:
    """What a run starts from: the base's shape, vocabulary, weights by layer name (as
    `charkeras.model.weights.layer_weights` gives them) and lineage (path, kind, weights_sha256,
    val_loss, ...: the facts a run records about its base)."""
    model: ModelConfig
    vocab: Vocabulary
    weights: dict[str, list[np.ndarray]]
    lineage: dict

    def shape_conflicts(self, cfg: ModelConfig, given: set[str]) -> list[str]:
        """The shape options in `given` whose value in `cfg` differs from the base's, as
        "--units 256 (the base has 512)" phrases for one error line."""
        return [f"--{name.replace('_', '-')} {getattr(cfg, name)} "
                f"(the base has {getattr(self.model, name)})"
                for name in SHAPE_FIELDS
                if name in given and getattr(cfg, name) != getattr(self.model, name)]

    def shape(self) -> dict:
        """The base's shape fields, which a run started from it takes."""
        return {name: getattr(self.model, name) for name in SHAPE_FIELDS}


@dataclass(frozen=True)
class MergedVocabulary:
    vocab: Vocabulary
    base_size: int  # the base's tokens (padding and unknown included): ids below it are its
    added: tuple[str, ...]  # the corpus's characters the base never saw: ids base_size, ...
    unused: tuple[str, ...]  # the base's characters the corpus lacks (kept)

    def origins(self) -> dict:
        """Which characters came from where, for the run's vocabulary file."""
        return {"base_tokens": self.base_size, "added": list(self.added),
                "base_unused": list(self.unused)}


def merge_vocabularies(base: Vocabulary, corpus: Vocabulary) -> MergedVocabulary:
    """The base's characters with their ids, then the corpus's new ones in the corpus's order."""
    known = set(base.chars)
    added = tuple(ch for ch in corpus.chars if ch not in known)
    if len(base) + len(added) > _MAX_TOKENS:
        raise CorpusError(f"the base's {len(base.chars)} characters and the corpus's {len(added)} "
                          f"new ones make {len(base.chars) + len(added)}; at most "
                          f"{_MAX_TOKENS - 2} are supported")
    in_corpus = set(corpus.chars)
    unused = tuple(ch for ch in base.chars if ch not in in_corpus)
    return MergedVocabulary(Vocabulary([*base.chars, *added]), len(base), added, unused)


def remap_ids(ids: np.ndarray, source: Vocabulary, target: Vocabulary) -> np.ndarray:
    """`ids` encoded with `source` re-encoded with `target`, in `target.id_dtype` (a merged
    vocabulary may need uint16 where the corpus alone fit uint8). A character `target` lacks
    becomes unknown."""
    table = np.concatenate([[0, UNK_ID], target.encode("".join(source.chars))])
    table = table.astype(target.id_dtype)
    out = np.empty(len(ids), dtype=target.id_dtype)
    for start in range(0, len(ids), _REMAP_CHUNK):
        out[start:start + _REMAP_CHUNK] = table[ids[start:start + _REMAP_CHUNK]]
    return out


def grow_weights(weights: dict[str, list[np.ndarray]], merged: MergedVocabulary, counts: np.ndarray,
                 seed: int = 0) -> dict[str, list[np.ndarray]]:
    """The base's `weights` with an embedding row and an output unit for each added character.

    `counts[i]` is how often id i of the merged vocabulary occurs in the training text. Every base
    weight is kept as it is; the new ones start as `NEW_ROW_INIT` says."""
    (embedding,) = weights["embedding"]
    kernel, bias = weights["logits"]
    n_base, n_new = merged.base_size, len(merged.added)
    if embedding.shape[0] != n_base or bias.shape[0] != n_base:
        raise ModelLoadError(f"the base's weights have {embedding.shape[0]} rows for a "
                             f"vocabulary of "
                             f"{n_base}: its vocabulary does not match its weights")
    rng = np.random.default_rng(seed)
    chars = slice(2, n_base)  # the base's character rows (padding and unknown model no character)
    spread = 0.1 * embedding[chars].std(axis=0)
    noise = rng.standard_normal((n_new, embedding.shape[1])) * spread
    new_rows = embedding[chars].mean(axis=0) + noise
    new_columns = np.repeat(kernel[:, chars].mean(axis=1, keepdims=True), n_new, axis=1)
    new_bias = _frequency_bias(bias, counts, n_base, n_new)
    grown = dict(weights)
    grown["embedding"] = [np.concatenate([embedding, new_rows.astype(embedding.dtype)])]
    grown["logits"] = [np.concatenate([kernel, new_columns.astype(kernel.dtype)], axis=1),
                       np.concatenate([bias, new_bias.astype(bias.dtype)])]
    return grown


def _frequency_bias(bias: np.ndarray, counts: np.ndarray, n_base: int, n_new: int) -> np.ndarray:
    """log(frequency) of each new character plus the base's typical offset between a character's
    bias and its log-frequency in this text (median over the base characters the text has)."""
    total = max(int(counts.sum()), 1)
    # a character seen only in the validation text counts as half an occurrence
    log_freq = np.log(np.maximum(counts, 0.5) / total)
    seen = np.flatnonzero(counts[2:n_base]) + 2
    offset = float(np.median(bias[seen] - log_freq[seen])) if len(seen) else 0.0
    return log_freq[n_base:n_base + n_new] + offset


def id_counts(ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """How often each id occurs in `ids`."""
    return np.bincount(np.asarray(ids), minlength=vocab_size)[:vocab_size]


def start_weights(base: BaseModel, merged: MergedVocabulary, train_ids: np.ndarray,
                  seed: int = 0) -> dict[str, list[np.ndarray]]:
    """The first weights of a run started from `base` on training text `train_ids` (merged ids)."""
    return grow_weights(base.weights, merged, id_counts(train_ids, len(merged.vocab)), seed)
