"""Training text turned into ids, cached on disk.

A source is a text file, a directory of text files, or `tfds:NAME[:SPLIT]` (a TensorFlow Datasets
text dataset, read by charkeras/text/tfds_source.py, which alone needs TensorFlow). The encoded ids
are cached as a memory-mapped `.npy` (uint8 or uint16) under a key made from the sha256 of the
source bytes and the encoding, so an edited file never reuses a stale cache.

The cache is not trusted blindly: `meta.json` records the sha256 of `ids.npy` as written, and every
open hashes the file again in streaming blocks (about a second per GB); a mismatch (a damaged or
edited cache) rebuilds it with a warning. A build killed part way leaves a `.ids.npy.*.tmp` file;
the next build anywhere in the cache directory removes those no live process is writing.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from charkeras.atomic import lock_while_writing, remove_stale_temporaries, write_text_atomic
from charkeras.errors import CorpusError, warn
from charkeras.text.reading import check_encoding, iter_decoded, sha256_of_files, text_files
from charkeras.text.vocabulary import Vocabulary, code_points

TFDS_PREFIX = "tfds:"
CACHE_VERSION = 2  # 2: meta.json carries the sha256 of ids.npy
_CHUNK_CHARS = 1 << 23  # encode in 8M-character chunks to bound peak memory on large corpora
_HASH_BLOCK = 1 << 23  # bytes read at a time when checking the cache's checksum


@dataclass
class Corpus:
    ids: np.ndarray  # memory-mapped, read-only
    vocab: Vocabulary
    sha256: str  # of the source bytes (file), the files (directory) or the UTF-8 text (tfds)
    source: str

    def __len__(self) -> int:
        return len(self.ids)

    def split(self, val_frac: float) -> tuple[np.ndarray, np.ndarray]:
        """(train, validation): validation is the last `val_frac` of the text, as in the standard
        split."""
        n_train = int(len(self.ids) * (1.0 - val_frac))
        return self.ids[:n_train], self.ids[n_train:]


def default_cache_dir() -> Path:
    env = os.environ.get("CHARKERAS_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "charkeras"


def load_corpus(source: str | os.PathLike, encoding: str = "utf-8",
                cache_dir: Path | None = None) -> Corpus:
    """Read `source`, build its vocabulary and ids, reusing the cache when the content is
    unchanged."""
    source = str(source)
    check_encoding(encoding)
    if source.startswith(TFDS_PREFIX):
        # TensorFlow Datasets only for tfds: sources
        from charkeras.text.tfds_source import read_tfds_text

        text = read_tfds_text(source[len(TFDS_PREFIX):])
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return _cached_or_built(source, digest, encoding, cache_dir,
                                lambda: (text[i:i + _CHUNK_CHARS]
                                         for i in range(0, len(text), _CHUNK_CHARS)))
    path = Path(source)
    if not path.exists():
        raise CorpusError(f"corpus not found: {source}")
    files = text_files(path)
    digest = sha256_of_files(path, files)
    return _cached_or_built(source, digest, encoding, cache_dir,
                            lambda: iter_decoded(files, encoding))


def _cached_or_built(source, digest, encoding, cache_dir, text_chunks) -> Corpus:
    """The cached ids of the text, built first if needed. `text_chunks()` iterates over the text in
    pieces; it is called twice (count the characters, then encode them), so a corpus is never held
    in memory whole: peak memory is a few chunks, whatever the corpus size."""
    key = hashlib.sha256(f"v{CACHE_VERSION}:{digest}:{encoding}".encode()).hexdigest()[:32]
    root = Path(cache_dir or default_cache_dir())
    entry = root / key
    cached = _read_cache(entry, digest)
    if cached is None:
        vocab, chars = _count(text_chunks())
        if not chars:
            raise CorpusError(f"corpus {source} is empty")
        try:
            _remove_killed_builds(root)
            entry.mkdir(parents=True, exist_ok=True)
            # a rebuild killed part way is then unfinished
            (entry / "meta.json").unlink(missing_ok=True)
            ids_sha256 = _encode_into(entry / "ids.npy", text_chunks(), vocab, chars)
            vocab.save(entry / "vocab.json")
            # meta.json last: its presence with the right sha256 marks the entry complete.
            meta = {"sha256": digest, "chars": chars, "ids_sha256": ids_sha256,
                    "vocab_sha256": _sha256_of_file(entry / "vocab.json")}
            write_text_atomic(entry / "meta.json", json.dumps(meta))
        except OSError as exc:  # read-only, full, or a file where a directory should be
            raise CorpusError(f"cannot write the corpus cache {exc.filename or entry}: "
                              f"{exc.strerror or exc}; pass --cache-dir DIR (or set "
                              "CHARKERAS_CACHE) to a writable directory") from None
        cached = _read_cache(entry, digest)
        if cached is None:
            raise CorpusError(f"the corpus cache {entry} cannot be read back after writing it; "
                              "remove it and retry")
    ids, vocab = cached
    return Corpus(ids=ids, vocab=vocab, sha256=digest, source=source)


def _count(chunks) -> tuple[Vocabulary, int]:
    """The vocabulary (by falling frequency) and the number of characters."""
    counts, chars = np.zeros(0x110000, np.int64), 0
    for chunk in chunks:
        for start in range(0, len(chunk), _CHUNK_CHARS):
            piece = code_points(chunk[start:start + _CHUNK_CHARS])
            counts += np.bincount(piece, minlength=0x110000)
            chars += len(piece)
    return Vocabulary.from_counts(counts), chars


def _remove_killed_builds(root: Path) -> None:
    """Remove the temporaries of builds that were killed, in every entry of the cache directory (a
    concurrent build holds a lock on its temporary, so it is left alone)."""
    if root.is_dir():
        for entry in root.iterdir():
            remove_stale_temporaries(entry, "ids.npy")


class _HashingWriter:
    """A binary file that also hashes what is written to it."""

    def __init__(self, file):
        self.file, self.hash = file, hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.hash.update(data)


def _encode_into(path: Path, chunks, vocab: Vocabulary, chars: int) -> str:
    """Write the ids of the text to the .npy file `path` atomically, a chunk at a time; return the
    sha256 of the file.

    Plain sequential writes (not a writable memory map, whose dirty pages count towards the
    process's memory until written back): peak memory stays a few chunks whatever the corpus size,
    and a full disk fails with ENOSPC at the write that does not fit. The temporary is locked while
    it is written, so only a killed build's temporary counts as stale.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    dtype = np.dtype(vocab.id_dtype)
    try:
        with open(tmp, "xb") as f:
            lock_while_writing(f.fileno())
            out = _HashingWriter(f)
            header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                      "shape": (chars,)}
            np.lib.format.write_array_header_1_0(out, header)
            at = 0
            for chunk in chunks:
                for start in range(0, len(chunk), _CHUNK_CHARS):
                    piece = vocab.encode(chunk[start:start + _CHUNK_CHARS], dtype)
                    out.write(piece.tobytes())
                    at += len(piece)
            if at != chars:
                raise CorpusError(
                    f"the corpus changed while it was read ({chars} then {at} characters); retry")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out.hash.hexdigest()


def _sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _read_cache(entry: Path, digest: str):
    """The cached (ids, vocabulary), or None when the entry must be built: absent, incomplete, or
    damaged (the last with a warning, since a cache that was once complete has been changed)."""
    try:
        meta = json.loads((entry / "meta.json").read_text())
    except (OSError, ValueError):
        return None  # never built, or a build that did not finish
    try:
        if not isinstance(meta, dict) or meta.get("sha256") != digest:
            raise ValueError("its meta.json does not match the corpus")
        for file, key in (("ids.npy", "ids_sha256"), ("vocab.json", "vocab_sha256")):
            if _sha256_of_file(entry / file) != meta[key]:
                raise ValueError(f"{file} does not match its checksum in meta.json")
        vocab = Vocabulary.load(entry / "vocab.json")
        ids = np.load(entry / "ids.npy", mmap_mode="r")
        if ids.ndim != 1 or len(ids) != meta["chars"]:
            raise ValueError("ids.npy has the wrong length")
        return ids, vocab
    except (OSError, ValueError, KeyError, TypeError, CorpusError) as exc:
        warn(f"the corpus cache {entry} is damaged ({exc}); rebuilding it")
        return None


