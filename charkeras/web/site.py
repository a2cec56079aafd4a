"""Build the static site of a model: the page, card.json, model_web.tflite and the LiteRT.js files.

    SITE/index.html style.css app.js sampler.js textgen.js   the page (charkeras/web/static/)
    SITE/card.json              the export's card (vocabulary, layers, units)
    SITE/model_web.tflite       batch-1 static-shape float32 `step` model
    SITE/litert/...             LiteRT.js, from runtime-files.json

A training run is exported to a temporary directory first (charkeras.exporting.writer.export), so
the site is always built from what `charkeras export` writes. The directory is built beside `out`
and renamed into place: a failed build leaves no half-written site.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from charkeras.artifact.card import card_vocabulary, read_card
from charkeras.artifact.layout import CARD_FILE, model_kind, version_dir
from charkeras.atomic import atomic_directory
from charkeras.errors import CharkerasError
from charkeras.exporting.writer import export
from charkeras.web.runtime_files import copy_runtime, copy_static, ensure_installed
from charkeras.web.web_model import WEB_MODEL_FILE, write_web_model

SITE_FILES = ("index.html", CARD_FILE, WEB_MODEL_FILE)  # what marks a directory as a built site


def build_site(model, out, *, force: bool = False, threaded: bool = False,
               log: Callable[[str], None] | None = None) -> Path:
    """Write the site of `model` (an export or a training run) to `out`; returns `out`.

    `threaded` also vendors LiteRT.js's threaded WebAssembly build (used with ?threads=N on a
    cross-origin isolated page). Raises CharkerasError for a bad model or target, or when LiteRT.js
    cannot be installed.
    """
    out = Path(out)
    kind, base = model_kind(model)
    check_target(out, force)
    ensure_installed(threaded, log=log)  # before any TensorFlow work: a missing npm fails fast
    with tempfile.TemporaryDirectory(prefix="charkeras-web-export-") as tmp:
        if kind == "run":
            _log(log, f"exporting the training run {base} first")
            base = export(base, Path(tmp) / "export")
        card = read_card(base)
        with atomic_directory(out) as site:
            copy_static(site)
            shutil.copyfile(base / CARD_FILE, site / CARD_FILE)
            copy_runtime(site, threaded)
            check = write_web_model(version_dir(base), int(card["layers"]), int(card["units"]),
                                    card_vocabulary(card, base), site / WEB_MODEL_FILE)
            _log(log, f"{WEB_MODEL_FILE}: {(site / WEB_MODEL_FILE).stat().st_size / 1e6:.1f} MB, "
                      f"max |logit diff| vs the SavedModel {check['max_abs_logit_diff']:.1e} over "
                      f"{check['check_steps']} steps")
    return out


def check_target(out: Path, force: bool) -> None:
    """Replace an earlier site only with force, and never a directory that is not a site."""
    if out.exists() and not out.is_dir():
        raise CharkerasError(f"--out {out} is a file, not a directory")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not all((out / name).is_file() for name in SITE_FILES):
        raise CharkerasError(f"--out {out} is a non-empty directory that is not a charkeras web "
                             "site; choose another --out")
    if not force:
        raise CharkerasError(f"{out} already holds a site: pass --force to replace it")


def site_size(site: Path) -> tuple[int, int]:
    """(files, bytes) under `site`."""
    files = [p for p in Path(site).rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def _log(log: Callable[[str], None] | None, message: str) -> None:
    if log:
        log(message)
