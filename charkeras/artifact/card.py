"""card.json: what an export is (config, vocabulary, training facts, LiteRT checks), readable
without TensorFlow. `charkeras/exporting/model_card.py` writes it; every runtime reads it here,
checked against its schema (charkeras/artifact/schema.py)."""

from __future__ import annotations

from pathlib import Path

from charkeras.artifact.layout import CARD_FILE
from charkeras.artifact.schema import FORMAT, FORMAT_VERSION, check_card
from charkeras.errors import CorpusError, ModelLoadError
from charkeras.schema import read_json
from charkeras.text.vocabulary import Vocabulary

__all__ = ["FORMAT", "FORMAT_VERSION", "card_vocabulary", "read_card"]


def read_card(base: Path) -> dict:
    """The checked card.json of the export in `base` (ModelLoadError if missing, corrupt or
    invalid)."""
    path = Path(base) / CARD_FILE
    return check_card(read_json(path, ModelLoadError), str(path))


def card_vocabulary(card: dict, base: Path) -> Vocabulary:
    try:
        return Vocabulary.from_tokens(card["vocabulary"])
    except (CorpusError, LookupError, TypeError, ValueError) as exc:  # a hand-edited vocabulary
        raise ModelLoadError(f"{base}/{CARD_FILE} has an invalid vocabulary: {exc}") from None
