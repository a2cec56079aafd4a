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

_BLOCK_BYTES = 1 << 24  # files are decoded 16 MB at a time, so a corpus never sits in memory twice


def check_encoding(encoding: str) -> None:
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise CorpusError(f"unknown --encoding {encoding!r} (try utf-8, latin-1, cp1252)") from None
    if not getattr(info, "_is_text_encoding", True):  # base64, rot13, zlib...: bytes<->bytes codecs
        raise CorpusError(
            f"--encoding {encoding!r} is not a text encoding (try utf-8, latin-1, cp1252)")


def read_text(source: str | os.PathLike, encoding: str = "utf-8", max_chars: int | None = None,
              encoding_option: str | None = "--encoding") -> str:
    """The decoded text of a file or directory, cut to its first `max_chars` characters if given.

    `encoding_option` is the caller's option that sets the encoding, named in a decoding error's
    advice; None for a caller that reads UTF-8 only.
    """
    check_encoding(encoding)
    if max_chars is not None:
        require(max_chars >= 1, f"--max-chars must be >= 1 (got {max_chars})", CorpusError)
    path = Path(source)
    if not path.exists():
        raise CorpusError(f"text file not found: {source}")
    text = decode_files(text_files(path), encoding, encoding_option)
    if max_chars is not None:
        text = text[:max_chars]
    if not text:
        raise CorpusError(f"{source} is empty")
    return text


def text_files(path: Path) -> list[Path]:
    """[path] for a file; for a directory its files in name order, hidden ones left out."""
    try:
        if path.is_file():
            return [path]
        if not path.is_dir():  # a FIFO or a device would block or never end
            raise CorpusError(f"{path} is not a regular file or a directory")
        files = sorted(p for p in path.rglob("*") if p.is_file()
                       and not any(s.startswith(".") for s in p.parts))
    except OSError as exc:
        raise unreadable(path, exc) from None
    if not files:
        raise CorpusError(f"directory {path} holds no files")
    return files


def unreadable(path, exc: OSError) -> CorpusError:
    """The one message for a text that exists but cannot be read (permissions, I/O errors, /proc
    files)."""
    return CorpusError(f"cannot read {exc.filename or path}: {exc.strerror or exc}")


def sha256_of_files(root: Path, files: list[Path]) -> str:
    """Hash of the files' bytes (and, for a directory, their names: renaming reorders the text)."""
    h = hashlib.sha256()
    for f in files:
        if root.is_dir():
            h.update(str(f.relative_to(root)).encode("utf-8", "surrogateescape") + b"\0")
        try:
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 24), b""):
                    h.update(block)
        except OSError as exc:
            raise unreadable(f, exc) from None
    return h.hexdigest()


def decode_files(files: list[Path], encoding: str,
                 encoding_option: str | None = "--encoding") -> str:
    return "".join(iter_decoded(files, encoding, encoding_option))


def _advice(encoding_option: str | None) -> str:
    """What to do about bytes that do not decode, naming the option only where the command has
    it."""
    if encoding_option is None:
        return "it must be UTF-8: convert it, e.g. with iconv -f latin-1 -t utf-8"
    return f"pass {encoding_option} with the file's real encoding, e.g. {encoding_option} latin-1"


def _decoder(encoding: str):
    """An incremental decoder; UTF-8 drops a leading byte order mark (Windows editors write one),
    which would otherwise become a character of the vocabulary."""
    name = codecs.lookup(encoding).name
    return codecs.getincrementaldecoder("utf-8-sig" if name == "utf-8" else encoding)()


def iter_decoded(files: list[Path], encoding: str, encoding_option: str | None = "--encoding"):
    """The text of `files` in pieces of at most 16 MB of bytes each, decoded as it is read.

    Files that do not end a line are separated by one, so words of two files never merge. A UTF-8
    byte order mark at the start of a file is not text and is dropped.
    """
    previous_end = ""  # the end of the previous file's text ("" for an empty file)
    for i, f in enumerate(files):
        if i and not previous_end.endswith("\n"):
            yield "\n"
        previous_end = ""
        decoder = _decoder(encoding)
        position = 0
        try:
            # closed below; its reads are wrapped for their OSError too
            fh = open(f, "rb")  # noqa: SIM115
        except OSError as exc:
            raise unreadable(f, exc) from None
        with fh:
            while True:
                try:
                    block = fh.read(_BLOCK_BYTES)
                except OSError as exc:
                    raise unreadable(f, exc) from None
                pending = decoder.getstate()[0]
                try:
                    text = decoder.decode(block, final=not block)
                except UnicodeDecodeError as exc:
                    data = pending + block
                    raise CorpusError(
                        f"{f} is not valid {encoding} (byte "
                        f"0x{data[exc.start:exc.start + 1].hex()} at offset "
                        f"{position - len(pending) + exc.start}); "
                        f"{_advice(encoding_option)}") from None
                except UnicodeError as exc:
                    # codecs such as idna or punycode fail without a position
                    raise CorpusError(f"{f} cannot be decoded as {encoding} ({exc}); "
                                      f"{_advice(encoding_option)}") from None
                if text:
                    previous_end = text
                    yield text
                if not block:
                    break
                position += len(block)
