"""Export a trained model to the fixed export contract (see DESIGN.md, "Export contract").

The layout is charkeras/artifact/layout.py's. Everything is traced from the inference model
(LSTMCells, pure CPU graph code), never from the training model, so an export made on a GPU machine
loads on a CPU one. The whole directory is built beside the target and renamed into place: a failed
export leaves no half-written model.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from charkeras.artifact.layout import CARD_FILE, QUANTIZE_CHOICES, TFLITE_FILES, VERSION_DIR, model_kind
from charkeras.atomic import atomic_directory
from charkeras.config import CharConfig
from charkeras.errors import ExportError
from charkeras.exporting.from_export import inference_model_from_export
from charkeras.exporting.model_card import model_card
from charkeras.exporting.saved_model import write_saved_model
from charkeras.exporting.tflite import check_tflite, convert_tflite
from charkeras.model.networks import count_params
from charkeras.probability import bits
from charkeras.text.vocabulary import Vocabulary
from charkeras.train.checkpoints import read_meta
from charkeras.train.run_dir import RunDir
from charkeras.train.run_loading import inference_model_from_run
from charkeras.train.summary import run_summary


def export(source, out, *, quantize: str | None = None, checkpoint: str = "best", force: bool = False,
           verbose: bool = False) -> Path:
    """Export the training run `source` to the model base path `out`; returns `out`.

    `source` may also be an export: it is rebuilt from its own weights by this version of charkeras
    (current graphs, optionally an int8 file), keeping its card's training facts.
    """
    kind, base = model_kind(source)
    if kind == "export":
        if checkpoint != "best":
            raise ExportError("--checkpoint picks a checkpoint of a training run; the source is an export")
        model, config, vocab, card = inference_model_from_export(base)
        training = card.get("training")
    else:
        run = RunDir(base)
        model, config, vocab, chosen = inference_model_from_run(base, checkpoint)
        training = training_facts(run, chosen)
    return export_model(model, config, vocab, out, training=training, quantize=quantize,
                        force=force, verbose=verbose)


def training_facts(run: RunDir, checkpoint: Path) -> dict:
    """The card's training section, for the exported checkpoint (which need not be the best one)."""
    summary = run_summary(run.path)
    meta = read_meta(checkpoint)
    val_loss = meta.get("val_loss")
    return summary | {
        "checkpoint": checkpoint.name, "step": meta.get("step"), "val_loss": val_loss,
        "val_bpc": bits(val_loss),
        "train_seconds": meta.get("train_seconds"),
        # run_summary describes the machine it runs on; only run.json can say what trained the model.
        "hardware": run.read_run_info().get("hardware", "not recorded by the run"),
        "exported_on": summary["hardware"],
    }


def export_model(inference_model, config: CharConfig, vocab: Vocabulary, out, *, training: dict | None = None,
                 quantize: str | None = None, force: bool = False, verbose: bool = False) -> Path:
    """Write the export of an inference model (weights already set) to `out` atomically; returns `out`."""
    out = Path(out)
    _check_target(out, force)
    if quantize not in (None, *QUANTIZE_CHOICES):
        raise ExportError(f"--quantize must be one of {', '.join(QUANTIZE_CHOICES)} (got {quantize!r})")
    cfg = config.model
    started = time.monotonic()
    with atomic_directory(out) as tmp:
        saved_model = tmp / VERSION_DIR
        write_saved_model(inference_model, vocab, cfg.layers, cfg.units, saved_model)
        _log(verbose, f"SavedModel written ({time.monotonic() - started:.1f} s)")
        variants = ["float32", "fp16"] + ([quantize] if quantize else [])
        lite = {}
        for variant in variants:
            path = tmp / TFLITE_FILES[variant]
            path.write_bytes(convert_tflite(saved_model, variant))
            lite[TFLITE_FILES[variant]] = {"variant": variant, "bytes": path.stat().st_size}
        checks = check_tflite(saved_model, {TFLITE_FILES[v]: tmp / TFLITE_FILES[v] for v in variants}, vocab)
        for name, result in checks.items():
            lite[name].update(result)
        _log(verbose, f"TFLite written and checked ({time.monotonic() - started:.1f} s)")
        card = model_card(config, vocab, count_params(inference_model), training, lite)
        (tmp / CARD_FILE).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def _log(verbose: bool, message: str) -> None:
    if verbose:
        print(message, flush=True)


def _check_target(out: Path, force: bool) -> None:
    """Replace an earlier export only with force, and never a directory that is not an export."""
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out} is a file, not a directory")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not (out / CARD_FILE).is_file():
        raise ExportError(f"--out {out} is a non-empty directory that is not a charkeras export; "
                          "choose another --out")
    if not force:
        raise ExportError(f"{out} already holds an export: pass --force to replace it")
