"""The schemas of a run directory's JSON files, and their checked readers.

config.json, vocab.json, run.json and every checkpoint's meta.json are read back by resume, export,
`load`, info and report. Each reader here turns a missing, truncated, hand-edited or foreign file
into one RunDirError naming the file, instead of a KeyError or TypeError later; a run.json written
by a newer charkeras (`format_version` above RUN_FORMAT_VERSION) is refused with "upgrade
charkeras". No TensorFlow here.
"""

from __future__ import annotations

from pathlib import Path

from charkeras.config import CharConfig
from charkeras.errors import ConfigError, CorpusError, RunDirError
from charkeras.schema import (
    check_format_version,
    check_object,
    integer,
    list_of,
    mapping,
    number,
    optional,
    read_json,
    string,
)
from charkeras.text.vocabulary import Vocabulary

RUN_FORMAT_VERSION = 1  # of run.json and the marker (and the run directory they describe)

RUN_INFO_SCHEMA = {
    "format_version": integer(1),
    "source": string(nonempty=True),
    "sha256": string(nonempty=True),
    "chars": integer(0),
    "train_chars": integer(0),
    "val_chars": integer(0),
    "charkeras_version": string(),
    "hardware": string(),
    "base": optional(mapping()),  # the lineage of a run started from a base (`train.fine_tuning`)
}
META_SCHEMA = {
    "step": integer(0),
    "val_loss": optional(number(finite=False)),  # a diverged validation may be NaN or infinite
    "train_seconds": number(0),
    "model_variables": list_of(string()),
    "optimizer_variables": list_of(string()),
    "config": mapping(),
}


def read_config_file(path: Path) -> CharConfig:
    """A run's config.json, types and ranges checked (its vocab_size is checked against vocab.json
    by `read_vocab_file` and against the weights when a checkpoint loads)."""
    data = read_json(path, RunDirError)
    try:
        return CharConfig.from_dict(data).validate()
    except ConfigError as exc:
        raise RunDirError(f"{path}: {exc}") from None


def read_vocab_file(path: Path, vocab_size: int | None = None) -> Vocabulary:
    """A run's vocab.json; with `vocab_size` (from config.json, the size of the weights) the two
    must agree."""
    data = read_json(path, RunDirError)
    try:
        vocab = Vocabulary.from_tokens(data.get("tokens") if isinstance(data, dict) else None)
    except CorpusError as exc:
        raise RunDirError(f"{path}: {exc}") from None
    if vocab_size is not None:
        check_vocab_size(vocab, vocab_size, str(path), RunDirError)
    return vocab


def check_vocab_size(vocab: Vocabulary, vocab_size: int, where: str, error=RunDirError) -> None:
    """The vocabulary must have exactly one entry per row of the embedding and per logit."""
    if len(vocab) != vocab_size:
        raise error(f"{where} has {len(vocab)} tokens but the model's weights are for "
                    f"{vocab_size}: the vocabulary does not belong to these weights (restore the "
                    "original file)")


def read_run_info_file(path: Path) -> dict:
    """A run's run.json (corpus source and sha256, sizes, hardware)."""
    info = check_object(read_json(path, RunDirError), RUN_INFO_SCHEMA, str(path), RunDirError,
                        required=("source", "sha256"))
    check_format_version(info, RUN_FORMAT_VERSION, str(path), RunDirError)
    return info


def check_meta(info, path: Path) -> dict:
    """A checkpoint's meta.json contents, checked (`path` names the file in messages)."""
    return check_object(info, META_SCHEMA, str(path), RunDirError,
                        required=("step", "val_loss", "train_seconds", "model_variables",
                                  "optimizer_variables"))
