"""The schema of card.json: what every reader of an export may rely on once `check_card` passed.

Types and ranges of every field a runtime, `info` or `export` reads, the consistency of the
vocabulary with the model's sizes (len(vocabulary) == vocab_size == config.model.vocab_size), and a
`format_version` no newer than this charkeras writes ("upgrade charkeras" otherwise). Whether the
weights themselves match the card is checked by each runtime when it loads them. No TensorFlow here.
"""

from __future__ import annotations

from charkeras.config import CharConfig
from charkeras.errors import ConfigError, ModelLoadError
from charkeras.schema import (
    check_format_version,
    check_object,
    integer,
    list_of,
    mapping,
    number,
    one_of,
    optional,
    string,
)

FORMAT = "charkeras-export"
FORMAT_VERSION = 1

CARD_SCHEMA = {
    "format": one_of(FORMAT),
    "format_version": integer(1),
    "charkeras_version": string(),
    "parameters": integer(0),
    "layers": integer(1),
    "units": integer(1),
    "vocab_size": integer(3),
    "start_id": integer(2),
    "config": mapping(),
    "vocabulary": list_of(string(), min_len=3),
    "training": optional(mapping()),
    "saved_model": mapping(),
    "tflite": optional(mapping()),
}
TRAINING_SCHEMA = {
    "val_loss": optional(number(finite=False)),
    "val_bpc": optional(number(finite=False)),
    "train_seconds": optional(number(0)),
    "step": optional(integer(0)),
    "checkpoint": optional(string()),
    "corpus_source": optional(string()),
    "corpus_sha256": optional(string()),
    "hardware": optional(string()),
    "exported_on": optional(string()),
    "base": optional(mapping()),  # what a fine-tuned model started from (BASE_SCHEMA)
}
# The lineage of a model trained from a base (`fit --init-from`), as its run's run.json records it.
BASE_SCHEMA = {
    "kind": one_of("run", "export"),
    "path": string(nonempty=True),
    "weights_sha256": string(nonempty=True),
    "val_loss": optional(number(finite=False)),
    "checkpoint": optional(string()),
    "step": optional(integer(0)),
    "exported_at": optional(string()),
    "new_rows": optional(string()),
    "added_chars": optional(integer(0)),
}
SAVED_MODEL_SCHEMA = {"version_dir": string(nonempty=True), "signatures": list_of(string())}
TFLITE_FILE_SCHEMA = {
    "variant": string(), "bytes": integer(0), "sha256": string(nonempty=True),
    "check_steps": integer(0), "argmax_agreement": number(0, 1),
    "max_prob_diff": number(0), "max_abs_logit_diff": number(0),
}


def check_card(card, where: str) -> dict:
    """`card` itself when it is a valid model card; raises ModelLoadError naming `where`
    otherwise."""
    check_object(card, CARD_SCHEMA, where, ModelLoadError,
                 required=("vocabulary", "layers", "units"))
    check_format_version(card, FORMAT_VERSION, where, ModelLoadError)
    if card.get("training") is not None:
        check_object(card["training"], TRAINING_SCHEMA, f"{where} training", ModelLoadError)
        if card["training"].get("base") is not None:
            check_object(card["training"]["base"], BASE_SCHEMA, f"{where} training base",
                         ModelLoadError, required=("path", "weights_sha256"))
    if "saved_model" in card:
        check_object(card["saved_model"], SAVED_MODEL_SCHEMA, f"{where} saved_model",
                     ModelLoadError)
    for name, facts in (card.get("tflite") or {}).items():
        check_object(facts, TFLITE_FILE_SCHEMA, f"{where} tflite {name}", ModelLoadError,
                     required=("bytes",))
    size = len(card["vocabulary"])
    if card.get("vocab_size", size) != size:
        raise ModelLoadError(f"{where}: vocab_size is {card['vocab_size']} but the vocabulary has "
                             f"{size} tokens: the card was edited or damaged")
    if "config" in card:
        try:
            model = CharConfig.from_dict(card["config"]).validate().model
        except ConfigError as exc:
            raise ModelLoadError(f"{where}: {exc}") from None
        for key, value in (("vocab_size", size), ("layers", card["layers"]),
                           ("units", card["units"])):
            if getattr(model, key) != value:
                raise ModelLoadError(f"{where}: config.model.{key} is {getattr(model, key)} but "
                                     f"the card says {value}: the card was edited or damaged")
    if not 2 <= card.get("start_id", 2) < size:
        raise ModelLoadError(
            f"{where}: start_id {card['start_id']} is not a character id (2..{size - 1})")
    return card


def check_model_fits_card(where: str, vocab_size: int, layers: int, units: int, logits_shape,
                          state_shape) -> None:
    """The loaded model's `step` outputs must have the card's sizes: logits [B, vocab_size] and
    state [B, 2 * layers, units]. A vocabulary edited after export (tokens removed or added) fails
    here instead of decoding ids to the wrong characters."""
    logits_dim = None if logits_shape is None or len(logits_shape) < 1 else logits_shape[-1]
    state_dims = None if state_shape is None else tuple(state_shape)[1:]
    if logits_dim is not None and int(logits_dim) != vocab_size:
        raise ModelLoadError(f"{where} outputs {int(logits_dim)} logits but card.json has a "
                             f"vocabulary of {vocab_size}: the vocabulary does not belong to these "
                             "weights")
    if state_dims is not None and tuple(int(d) for d in state_dims) != (2 * layers, units):
        raise ModelLoadError(f"{where} has a state of shape {tuple(int(d) for d in state_dims)} "
                             f"but card.json says {layers} layers of {units} units (expected "
                             f"{(2 * layers, units)})")
