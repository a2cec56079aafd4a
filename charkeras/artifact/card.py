"""card.json: what an export is (config, vocabulary, training facts, LiteRT checks), readable without
TensorFlow. `charkeras/exporting/model_card.py` writes it; every runtime reads its vocabulary here."""

from __future__ import annotations

import json
from pathlib import Path

from charkeras.artifact.layout import CARD_FILE
from charkeras.errors import CorpusError, ModelLoadError
from charkeras.text.vocabulary import Vocabulary

FORMAT = "charkeras-export"
FORMAT_VERSION = 1


def read_card(base: Path) -> dict:
    try:
        card = json.loads((Path(base) / CARD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{base}/{CARD_FILE} is unreadable: {exc}") from None
    missing = [key for key in ("vocabulary", "layers", "units") if not isinstance(card, dict) or key not in card]
    if missing:
        raise ModelLoadError(f"{base}/{CARD_FILE} is not a charkeras model card (missing {', '.join(missing)})")
    return card


def card_vocabulary(card: dict, base: Path) -> Vocabulary:
    try:
        return Vocabulary.from_json(json.dumps({"tokens": card["vocabulary"]}))
    except (CorpusError, LookupError, TypeError, ValueError) as exc:  # a hand-edited vocabulary
        raise ModelLoadError(f"{base}/{CARD_FILE} has an invalid vocabulary: {exc}") from None
