"""Where things are in an export (a TF Serving model base path) and how to tell an export from a
run.

    NAME/1/                 SavedModel (integer version directory; TF Serving serves the highest;
                            exporting again into NAME adds NAME/2/, ... and keeps the newest few)
    NAME/model.tflite       float32 `step` signature
    NAME/model_fp16.tflite  float16 weights
    NAME/model_int8.tflite  dynamic-range int8 weights (only when exported with --quantize int8)
    NAME/card.json          the model card (charkeras/artifact/card.py)
"""

from __future__ import annotations

from pathlib import Path

from charkeras.errors import ExportError, ModelLoadError
from charkeras.train.run.directory import RunDir
from charkeras.train.run.names import CONFIG_FILE

CARD_FILE = "card.json"
VERSION_DIR = "1"  # the version directory a first export writes; re-exports add the next integer
TFLITE_FILES = {"float32": "model.tflite", "fp16": "model_fp16.tflite", "int8": "model_int8.tflite"}
PRECISIONS = tuple(TFLITE_FILES)  # --precision choices: which .tflite file runs
QUANTIZE_CHOICES = ("int8",)  # precisions written only when asked for
DEFAULT_KEEP_VERSIONS = 3  # version directories an export base path keeps (the newest)


def version_numbers(base: Path) -> list[int]:
    """The integer version directories of an export base path, lowest first (complete or not)."""
    base = Path(base)
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if p.name.isdigit() and p.is_dir())


def version_dir(base: Path, card: dict | None = None) -> Path:
    """The version directory the card describes (its saved_model.version_dir) when it holds a
    SavedModel, else the highest integer version directory holding a saved_model.pb (what TF Serving
    serves).

    Following the card keeps the SavedModel and the card's vocabulary together even while an export
    into `base` has renamed its new version in but not yet replaced card.json (or was killed there).
    """
    described = str(((card or {}).get("saved_model") or {}).get("version_dir", ""))
    if described.isdigit() and (Path(base) / described / "saved_model.pb").is_file():
        return Path(base) / described
    versions = [p for p in Path(base).iterdir() if p.name.isdigit()
                and (p / "saved_model.pb").is_file()]
    if not versions:
        raise ModelLoadError(
            f"{base} has no SavedModel version directory ({base}/1/saved_model.pb)")
    return max(versions, key=lambda p: int(p.name))


def model_kind(path) -> tuple[str, Path]:
    """("export", base path) or ("run", run path); raises ModelLoadError for anything else."""
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"model not found: {path}")
    if not path.is_dir():
        raise ModelLoadError(
            f"{path} is a file; give an export directory (saved_models/NAME) or a training run")
    if (path / "saved_model.pb").is_file() and (path.parent / CARD_FILE).is_file():
        return "export", path.parent  # the version directory NAME/1 was given
    if (path / CARD_FILE).is_file():
        return "export", path
    if (path / CONFIG_FILE).is_file():
        return "run", path
    raise ModelLoadError(f"{path} is neither a charkeras export (card.json + 1/saved_model.pb) "
                         f"nor a training run ({CONFIG_FILE})")


def check_export_target(out: Path, force: bool) -> bool:
    """True when `out` holds an export (a new export becomes its next version); False when `out` is
    free for a first export: missing, empty, or (with force) a directory that is not an export.
    Raises ExportError for a file, a version directory, a path inside an export, a training run, or
    another directory without force. Writes nothing."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out} is a file, not a directory")
    if (out / "saved_model.pb").is_file():
        raise ExportError(f"--out {out} is a SavedModel version directory; give the export's base "
                          f"path ({out.parent}) to add a version")
    # a later export would prune it as an old version, or mix files
    for parent in out.resolve().parents:
        if (parent / CARD_FILE).is_file():
            raise ExportError(f"--out {out} is inside the export {parent}; give a directory "
                              f"outside it (or {parent} itself to add a version)")
    if not out.is_dir() or not any(out.iterdir()):
        return False
    if (out / CARD_FILE).is_file():
        return True
    if (out / CONFIG_FILE).is_file():
        raise ExportError(f"--out {out} is a training run; an export needs its own directory "
                          "(e.g. --out saved_models/NAME)")
    if not force:
        raise ExportError(f"--out {out} is a non-empty directory that is not a charkeras export; "
                          "choose another --out, or pass --force to replace it (its files are "
                          "deleted)")
    for parent in out.resolve().parents:  # --force never deletes part of a run
        if RunDir(parent).is_run():
            raise ExportError(f"--out {out} is inside a training run ({parent}); --force will not "
                              "replace part of it")
    return False
