"""The run directory: the files one training run writes, and the rules for creating and reading it.

    config.json  vocab.json  run.json (corpus source, sha256, sizes, hardware)
    checkpoints/ckpt-000000500/  checkpoints/best/
    log.csv  samples.jsonl  tensorboard/  report.html  loss.png
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from charkeras.atomic import write_text_atomic
from charkeras.config import CharConfig
from charkeras.errors import RunDirError
from charkeras.text.vocabulary import Vocabulary
from charkeras.train.run_files import read_config_file, read_run_info_file, read_vocab_file

CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.json"
RUN_FILE = "run.json"
CHECKPOINTS = "checkpoints"
BEST = "best"
_RUN_FILES = (CONFIG_FILE, VOCAB_FILE, RUN_FILE, CHECKPOINTS, "log.csv", "samples.jsonl", "tensorboard")


class RunDir:
    """Paths and files of one training run."""

    def __init__(self, path):
        self.path = Path(path)

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    def exists(self) -> bool:
        return (self.path / CONFIG_FILE).is_file()

    def check_can_create(self, force: bool) -> None:
        """Refuse to overwrite another run (or unrelated files) unless forced. Writes nothing."""
        if self.path.exists() and not self.path.is_dir():
            raise RunDirError(f"--out {self.path} is a file, not a directory")
        if self.exists() and not force:
            raise RunDirError(f"{self.path} holds another run: pass --resume to continue it or --force to replace it")
        if self.path.is_dir() and not self.exists() and any(self.path.iterdir()) and not force:
            raise RunDirError(f"{self.path} is not empty: choose a new --out or pass --force")

    def prepare_new(self, force: bool) -> None:
        """With force, remove only the previous run's own files; other files in the directory stay."""
        self.check_can_create(force)
        if force:
            for name in _RUN_FILES:
                target = self.path / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()

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
        best = self.checkpoints / BEST
        return best if (best / "meta.json").is_file() else None
