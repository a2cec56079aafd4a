"""`RunDir`: one training run's directory, its files (named in `names`) and the rules for creating,
replacing and reading it.

A directory is a run when it has the marker, which a new run writes before anything else. `--force`
replaces a run only, and removes only what a run writes there (`names.RUN_ENTRIES`): files of the
user's own in the directory stay. No TensorFlow here.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from charkeras import __version__
from charkeras.atomic import write_text_atomic
from charkeras.config import CharConfig
from charkeras.errors import RunDirError
from charkeras.schema import check_format_version, read_json
from charkeras.text.id_cache import TFDS_PREFIX
from charkeras.text.vocabulary import Vocabulary
from charkeras.train.run.lock import check_not_locked
from charkeras.train.run.names import (
    BEST,
    CHECKPOINT_PREFIX,
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    LOCK_FILE,
    MARKER_FILE,
    META_FILE,
    RUN_ENTRIES,
    RUN_FILE,
    VOCAB_FILE,
    checkpoint_name,
)
from charkeras.train.run.schemas import (
    RUN_FORMAT_VERSION,
    read_config_file,
    read_run_info_file,
    read_vocab_file,
)


class RunDir:
    """Paths and files of one training run."""

    def __init__(self, path):
        self.path = Path(path)

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS_DIR

    def exists(self) -> bool:
        return (self.path / CONFIG_FILE).is_file()

    def is_run(self) -> bool:
        """charkeras wrote this directory: it has the marker."""
        return (self.path / MARKER_FILE).is_file()

    def check_can_create(self, force: bool) -> None:
        """Refuse to overwrite another run (or unrelated files) unless forced, and a run another
        process trains in even then. Writes nothing."""
        if self.path.exists() and not self.path.is_dir():
            raise RunDirError(f"--out {self.path} is a file, not a directory")
        if self.path.is_dir():
            check_not_locked(self.path)
        self._check_contents(force)

    def _check_contents(self, force: bool) -> None:
        if not self.path.is_dir() or not any(p.name != LOCK_FILE for p in self.path.iterdir()):
            return
        if self.is_run():
            if not force:
                raise RunDirError(f"{self.path} holds another run: pass --resume to continue it or "
                                  "--force to replace it")
            return
        raise RunDirError(f"{self.path} is not empty and holds no charkeras run: choose a new "
                          "--out (--force only replaces a charkeras run)")

    def prepare_new(self, force: bool) -> None:
        """Make the directory a new run. The caller holds its lock (`lock.RunLock`). With force,
        what the previous run wrote (`names.RUN_ENTRIES`) is removed, and nothing else; the marker
        is written first, so a run stopped while its files are written can still be replaced."""
        self._check_contents(force)
        self.path.mkdir(parents=True, exist_ok=True)
        if force:
            for name in RUN_ENTRIES:
                target = self.path / name
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                elif target.exists() or target.is_symlink():
                    target.unlink()
        self.write_marker()

    def write_marker(self) -> None:
        write_text_atomic(self.path / MARKER_FILE, json.dumps(
            {"format_version": RUN_FORMAT_VERSION, "charkeras_version": __version__}, indent=2))

    def check_resumable(self) -> None:
        """Raise RunDirError unless this is a complete run this charkeras can continue. Writes
        nothing."""
        marker = self.path / MARKER_FILE
        if not marker.is_file():
            raise RunDirError(f"{self.path} is not a charkeras run (no {MARKER_FILE} marker)")
        data = read_json(marker, RunDirError)
        if not isinstance(data, dict):
            raise RunDirError(f"{marker} is not a JSON object")
        check_format_version(data, RUN_FORMAT_VERSION, str(marker), RunDirError)
        missing = ", ".join(n for n in (CONFIG_FILE, VOCAB_FILE, RUN_FILE)
                            if not (self.path / n).is_file())
        # removed since: --force would delete the checkpoints
        if missing and self.list_checkpoints():
            raise RunDirError(f"{self.path} has checkpoints but no {missing}: restore the missing "
                              "file (from a backup, or a copy of this run) to resume it; --force "
                              "would replace the run and delete its checkpoints")
        if missing:
            raise RunDirError(f"{self.path} was stopped during start-up before its files were "
                              f"written (no {missing}): start it again with charkeras fit CORPUS "
                              f"--out {self.path} --force")

    def write_run_files(self, config: CharConfig, vocab: Vocabulary, run_info: dict,
                        vocab_origins: dict | None = None) -> None:
        """config.json, vocab.json and run.json; a corpus path is recorded absolute, so the run
        resumes from any working directory. `vocab_origins`: for a run started from a base, which
        characters came from the base and which from the corpus
        (`vocab_transfer.MergedVocabulary.origins`), recorded beside the tokens in vocab.json."""
        source = str(run_info["source"])
        if not source.startswith(TFDS_PREFIX):
            source = os.path.abspath(source)
        write_text_atomic(self.path / CONFIG_FILE, config.to_json())
        if vocab_origins is None:
            vocab.save(self.path / VOCAB_FILE)
        else:
            write_text_atomic(self.path / VOCAB_FILE, json.dumps(
                {"tokens": vocab.tokens, "origins": vocab_origins}, ensure_ascii=False, indent=0))
        info = run_info | {"source": source, "format_version": RUN_FORMAT_VERSION}
        write_text_atomic(self.path / RUN_FILE, json.dumps(info, indent=2))

    def corpus_source(self, given=None):
        """The corpus a resume reads: `given`, else the source run.json records; a recorded path
        that is gone (moved, or relative to another working directory) is an error saying how to
        give it."""
        if given is not None:
            return given
        source = self.read_run_info()["source"]
        if not source.startswith(TFDS_PREFIX) and not Path(source).exists():
            raise RunDirError(f"the corpus {self.path} was trained on, {source}, is not found from "
                              f"{os.getcwd()}: give its path, charkeras fit CORPUS --resume "
                              f"{self.path}")
        return source

    def read_config(self) -> CharConfig:
        if not self.exists():
            raise RunDirError(f"{self.path} is not a charkeras run (no {CONFIG_FILE})")
        return read_config_file(self.path / CONFIG_FILE)  # schema-checked (`schemas`)

    def read_vocab(self, vocab_size: int | None = None) -> Vocabulary:
        """vocab.json; pass config.model.vocab_size to refuse a vocabulary that does not fit the
        weights."""
        return read_vocab_file(self.path / VOCAB_FILE, vocab_size)

    def read_run_info(self) -> dict:
        return read_run_info_file(self.path / RUN_FILE)

    def checkpoint(self, step: int) -> Path:
        """Where the checkpoint of `step` is written."""
        return self.checkpoints / checkpoint_name(step)

    def list_checkpoints(self) -> list[Path]:
        if not self.checkpoints.is_dir():
            return []
        return sorted(p for p in self.checkpoints.glob(f"{CHECKPOINT_PREFIX}*")
                      if (p / META_FILE).is_file())

    def latest_checkpoint(self) -> Path | None:
        found = self.list_checkpoints()
        return found[-1] if found else None

    def best_checkpoint(self) -> Path | None:
        # .best.old: a replacement of best killed between its two renames (where renames cannot
        # swap)
        for name in (BEST, f".{BEST}.old"):
            best = self.checkpoints / name
            if (best / META_FILE).is_file():
                return best
        return None
