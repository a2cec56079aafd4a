"""Reading text from disk: a file or a directory of files, decoded with clear errors.

The one reader of user text: `fit` (through the id cache), `evaluate`, `visualize` and `cells` all
read through `read_text`, so every command gives the same message for a missing file, a directory
without files, or bytes that are not in the given encoding.
"""

from __future__ import annotations

import codecs
import hashlib
import os
from pathlib import Path

from charkeras.errors import CorpusError, require


def check_encoding(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise CorpusError(f"unknown --encoding {encoding!r} (try utf-8, latin-1, cp1252)") from None


def read_text(source: str | os.PathLike, encoding: str = "utf-8", max_chars: int | None = None) -> str:
    """The decoded text of a file or directory, cut to its first `max_chars` characters if given."""
    check_encoding(encoding)
    if max_chars is not None:
        require(max_chars >= 1, f"--max-chars must be >= 1 (got {max_chars})", CorpusError)
    path = Path(source)
    if not path.exists():
        raise CorpusError(f"text file not found: {source}")
    text = decode_files(text_files(path), encoding)
    if max_chars is not None:
        text = text[:max_chars]
    if not text:
        raise CorpusError(f"{source} is empty")
    return text


def text_files(path: Path) -> list[Path]:
    """[path] for a file; for a directory its files in name order, hidden ones left out."""
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file() and not any(s.startswith(".") for s in p.parts))
    if not files:
        raise CorpusError(f"directory {path} holds no files")
    return files


def sha256_of_files(root: Path, files: list[Path]) -> str:
    """Hash of the files' bytes (and, for a directory, their names: renaming reorders the text)."""
    h = hashlib.sha256()
    for f in files:
        if root.is_dir():
            h.update(str(f.relative_to(root)).encode("utf-8") + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 24), b""):
                h.update(block)
    return h.hexdigest()


def decode_files(files: list[Path], encoding: str) -> str:
    parts = []
    for f in files:
        raw = f.read_bytes()
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            bad = raw[exc.start:exc.start + 1].hex()
            raise CorpusError(
                f"{f} is not valid {encoding} (byte 0x{bad} at offset {exc.start}); "
                f"pass --encoding with the file's real encoding, e.g. --encoding latin-1"
            ) from None
        # Files that do not end a line are separated by one, so words of two files never merge.
        if parts and not parts[-1].endswith("\n"):
            parts.append("\n")
        parts.append(text)
    return "".join(parts)
