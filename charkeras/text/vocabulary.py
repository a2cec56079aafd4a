"""Character vocabulary: Unicode code points <-> integer ids.

The id layout is TextVectorization's: 0 is padding (''), 1 is unknown ('[UNK]'), then the characters
by falling frequency. `encode()` maps text to ids in numpy, for whole corpora too, where a 100 MB
string tensor split into characters would need several GB; the exported signatures do the same
mapping inside the graph with a TextVectorization layer built from this vocabulary
(charkeras/exporting/signatures.py). No TensorFlow here: the LiteRT runtime and `--help` load this
module.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from charkeras.atomic import write_text_atomic
from charkeras.errors import CorpusError

PAD_TOKEN = ""
UNK_TOKEN = "[UNK]"
PAD_ID = 0
UNK_ID = 1
_MAX_CODE_POINT = 0x110000


class Vocabulary:
    """An ordered list of characters; id i is `tokens[i]`."""

    def __init__(self, chars: Sequence[str]):
        chars = list(chars)
        for ch in chars:
            if len(ch) != 1:
                raise CorpusError(f"vocabulary entries must be single characters, got {ch!r}")
        if len(set(chars)) != len(chars):
            raise CorpusError("vocabulary has duplicate characters")
        self.chars = chars
        self.tokens = [PAD_TOKEN, UNK_TOKEN, *chars]
        # Dense code point -> id table: encoding a corpus is one fancy-indexing pass.
        self._lookup = np.full(_MAX_CODE_POINT, UNK_ID, dtype=np.uint32)
        self._lookup[[ord(c) for c in chars]] = np.arange(2, len(chars) + 2, dtype=np.uint32)
        self._inverse = np.array(self.tokens, dtype=object)

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocabulary) and self.chars == other.chars

    @property
    def id_dtype(self):
        """Smallest unsigned dtype that holds every id (the corpus cache stores ids in it)."""
        return np.uint8 if len(self) <= 256 else np.uint16

    @classmethod
    def from_counts(cls, counts: np.ndarray) -> Vocabulary:
        """Build from a code-point histogram, most frequent first (ties by code point, stable)."""
        present = np.flatnonzero(counts)
        order = present[np.argsort(-counts[present], kind="stable")]
        if len(order) + 2 > np.iinfo(np.uint16).max:
            raise CorpusError(
                f"corpus has {len(order)} distinct characters; at most 65533 are supported")
        return cls([chr(int(cp)) for cp in order])

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        return cls.from_counts(count_code_points(text))

    def encode(self, text: str, dtype=np.int32) -> np.ndarray:
        """Ids of each character; characters not in the vocabulary map to UNK_ID."""
        return self._lookup[code_points(text)].astype(dtype, copy=False)

    def unknown_chars(self, text: str) -> list[str]:
        """The distinct characters of `text` that the vocabulary lacks, in order of appearance."""
        known = set(self.chars)
        return list(dict.fromkeys(ch for ch in text if ch not in known))

    def decode(self, ids) -> str:
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(f"id out of range for a vocabulary of {len(self)}")
        return "".join(self._inverse[ids])

    @property
    def start_id(self) -> int:
        """The id fed before sampling when the prime is empty: newline if known, else the most
        frequent char."""
        return int(self.encode("\n")[0]) if "\n" in self.chars else 2

    def to_json(self) -> str:
        return json.dumps({"tokens": self.tokens}, ensure_ascii=False, indent=0)

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise CorpusError(f"vocabulary is not valid JSON ({exc})") from None
        return cls.from_tokens(data.get("tokens") if isinstance(data, dict) else None)

    @classmethod
    def from_tokens(cls, tokens) -> Vocabulary:
        """From the stored token list (padding, unknown, then single characters), checked."""
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise CorpusError("vocabulary must be a list of strings under \"tokens\"")
        if tokens[:2] != [PAD_TOKEN, UNK_TOKEN]:
            raise CorpusError("vocabulary file must start with the padding and unknown tokens")
        if len(tokens) < 3:
            raise CorpusError("vocabulary has no characters")
        if any(0xD800 <= ord(t) <= 0xDFFF for t in tokens[2:] if len(t) == 1):
            raise CorpusError("vocabulary holds a lone surrogate, which is not a character")
        return cls(tokens[2:])

    def save(self, path: Path) -> None:
        write_text_atomic(Path(path), self.to_json())

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        """The vocabulary saved in `path`; a damaged file raises CorpusError (OSError if
        unreadable)."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise CorpusError(f"{path} is not UTF-8 text: the file is damaged") from None
        try:
            return cls.from_json(text)
        except CorpusError as exc:
            raise CorpusError(f"{path}: {exc}") from None


def check_unicode(text: str, what: str) -> None:
    """Refuse text that is not a sequence of Unicode characters: lone surrogates, which is what
    bytes that are not UTF-8 become in a command-line argument (Python's surrogateescape), e.g.
    `--prime $'\\xff'`. Such text cannot be encoded, by TensorFlow or here, so it is an error rather
    than a guess."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = ord(text[exc.start])
        if 0xDC80 <= bad <= 0xDCFF:
            raise CorpusError(f"{what} is not valid UTF-8 (byte 0x{bad - 0xDC00:02x} at character "
                              f"{exc.start}): give it in UTF-8 (check the terminal's or the "
                              "script's encoding)") from None
        raise CorpusError(f"{what} holds a lone surrogate U+{bad:04X} at character {exc.start}, "
                          "which is not a character") from None


def code_points(text: str) -> np.ndarray:
    """The Unicode code points of `text` as a uint32 array (UTF-32 is one unit per code point)."""
    try:
        return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    except UnicodeEncodeError:
        # lone surrogates, e.g. from --encoding unicode_escape or a raw argument
        check_unicode(text, "the text")
        raise


def count_code_points(text: str) -> np.ndarray:
    return np.bincount(code_points(text), minlength=_MAX_CODE_POINT)
