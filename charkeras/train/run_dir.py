"""The run directory: the files one training run writes, and the rules for creating and reading it.

    .charkeras-run  (the marker: "charkeras wrote this directory", with the run format version)
    .charkeras-lock (held by the process training here: charkeras/train/run_lock.py)
    config.json  vocab.json  run.json (corpus source, sha256, sizes, hardware)
    checkpoints/ckpt-000000500/  checkpoints/best/
    log.csv  samples.jsonl  tensorboard/  report.html  loss.png

A directory is a run when it has the marker, or (runs from before the marker) config.json, vocab.json,
run.json and checkpoints/ together; resuming such an older run adds the marker. `--force` replaces a run
only, and removes only the files listed here; a directory with a config.json but no marker is not a run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from charkeras import __version__
from charkeras.atomic import write_text_atomic
from charkeras.config import CharConfig
from charkeras.errors import RunDirError
from charkeras.schema import check_format_version, read_json
from charkeras.text.vocabulary import Vocabulary
from charkeras.train.run_files import (
    RUN_FORMAT_VERSION,
    read_config_file,
    read_run_info_file,
    read_vocab_file,
)
from charkeras.train.run_lock import LOCK_FILE, check_not_locked

CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.json"
RUN_FILE = "run.json"
CHECKPOINTS = "checkpoints"
BEST = "best"
MARKER_FILE = ".charkeras-run"
_RUN_FILES = (CONFIG_FILE, VOCAB_FILE, RUN_FILE, CHECKPOINTS, "log.csv", "samples.jsonl", "tensorboard",
              "report.html", "loss.png")


class RunDir:
    """Paths and files of one training run."""

    def __init__(self, path):
        self.path = Path(path)

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    def exists(self) -> bool:
        return (self.path / CONFIG_FILE).is_file()

    def is_run(self) -> bool:
        """charkeras wrote this directory: it has the marker, or all the files of an older run."""
        if (self.path / MARKER_FILE).is_file():
            return True
        return all((self.path / name).is_file() for name in (CONFIG_FILE, VOCAB_FILE, RUN_FILE)) and \
            self.checkpoints.is_dir()

    def check_can_create(self, force: bool) -> None:
        """Refuse to overwrite another run (or unrelated files) unless forced, and a run another process
        trains in even then. Writes nothing."""
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
                raise RunDirError(f"{self.path} holds another run: pass --resume to continue it or --force to "
                                  "replace it")
            return
        if (self.path / CONFIG_FILE).exists():
            raise RunDirError(f"{self.path} has a {CONFIG_FILE} but no {MARKER_FILE} marker, so it is not a run "
                              "charkeras wrote: it cannot be continued with --resume or replaced with --force; "
                              "choose a new --out")
        raise RunDirError(f"{self.path} is not empty and holds no charkeras run: choose a new --out "
                          "(--force only replaces a charkeras run)")

    def prepare_new(self, force: bool) -> None:
        """Make the directory a new run. The caller holds its lock (charkeras/train/run_lock.py). With
        force, only the previous run's own files are removed; the marker is written first, so a run
        stopped while its files are written can still be replaced with --force."""
        self._check_contents(force)
        self.path.mkdir(parents=True, exist_ok=True)
        if force:
            for name in _RUN_FILES:
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
        """Raise RunDirError unless this is a complete run this charkeras can continue. Writes nothing."""
        marker = self.path / MARKER_FILE
        if marker.is_file():
            data = read_json(marker, RunDirError)
            if not isinstance(data, dict):
                raise RunDirError(f"{marker} is not a JSON object")
            check_format_version(data, RUN_FORMAT_VERSION, str(marker), RunDirError)
        elif not self.is_run():
            if (self.path / CONFIG_FILE).is_file():
                raise RunDirError(f"{self.path} is not a charkeras run (a {CONFIG_FILE} but no {MARKER_FILE} "
                                  "marker)")
            raise RunDirError(f"{self.path} is not a charkeras run (no {CONFIG_FILE})")
        missing = [n for n in (CONFIG_FILE, VOCAB_FILE, RUN_FILE) if not (self.path / n).is_file()]
        if missing:
            raise RunDirError(f"{self.path} was stopped during start-up before its files were written (no "
                              f"{', '.join(missing)}): start it again with charkeras fit CORPUS --out {self.path} "
                              "--force")

    def write_run_files(self, config: CharConfig, vocab: Vocabulary, run_info: dict) -> None:
        write_text_atomic(self.path / CONFIG_FILE, config.to_json())
        vocab.save(self.path / VOCAB_FILE)
        write_text_atomic(self.path / RUN_FILE, json.dumps(run_info, indent=2))

    def read_config(self) -> CharConfig:
        if not self.exists():
            raise RunDirError(f"{self.path} is not a charkeras run (no {CONFIG_FILE})")
        return read_config_file(self.path / CONFIG_FILE)  # schema-checked: charkeras/train/run_files.py

    def read_vocab(self, vocab_size: int | None = None) -> Vocabulary:
        """vocab.json; pass config.model.vocab_size to refuse a vocabulary that does not fit the weights."""
        return read_vocab_file(self.path / VOCAB_FILE, vocab_size)

    def read_run_info(self) -> dict:
        return read_run_info_file(self.path / RUN_FILE)

    def list_checkpoints(self) -> list[Path]:
        if not self.checkpoints.is_dir():
            return []
        return sorted(p for p in self.checkpoints.glob("ckpt-*") if (p / "meta.json").is_file())

    def latest_checkpoint(self) -> Path | None:
        found = self.list_checkpoints()
        return found[-1] if found else None

    def best_checkpoint(self) -> Path | None:
        # .best.old: a replacement of best killed between its two renames (where renames cannot swap)
        for name in (BEST, f".{BEST}.old"):
            best = self.checkpoints / name
            if (best / "meta.json").is_file():
                return best
        return None
