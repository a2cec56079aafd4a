"""Exporting again into an export (issue 11, finding 12): the next integer version directory appears
whole (TF Serving loads it while serving), the newest `keep_versions` stay, the .tflite files and the
card are replaced atomically, a failed or concurrent export changes nothing, and `--force` is only
for replacing a directory that is not an export."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys

import pytest
from model_factory import TEXT, random_step_model

from charkeras.errors import ExportError


def write(out, seed=0, **kwargs):
    from charkeras.exporting.writer import export_model
    from charkeras.text.vocabulary import Vocabulary

    vocab = Vocabulary.from_text(TEXT)
    step, cfg = random_step_model(vocab, seed=seed)
    export_model(step, cfg, vocab, out, **kwargs)


def versions(out):
    return sorted((p.name for p in out.iterdir() if p.name.isdigit()), key=int)


def card(out):
    return json.loads((out / "card.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_exporting_again_adds_versions_and_keeps_the_newest(tmp_path):
    from charkeras.runtime.loading import load

    out = tmp_path / "model"
    write(out, seed=0, quantize="int8")
    assert versions(out) == ["1"] and card(out)["saved_model"]["version_dir"] == "1"
    first_tflite = (out / "model.tflite").read_bytes()
    write(out, seed=1, keep_versions=2)
    assert versions(out) == ["1", "2"] and card(out)["saved_model"]["version_dir"] == "2"
    assert (out / "model.tflite").read_bytes() != first_tflite
    assert not (out / "model_int8.tflite").exists()  # the previous export's int8 file would not match
    # Every runtime now runs version 2's weights: the SavedModel (the highest version) and LiteRT agree.
    saved, lite = load(out, runtime="savedmodel"), load(out, runtime="tflite")
    assert saved.generate(60, seed=3, temperature=0) == lite.generate(60, seed=3, temperature=0)
    write(out, seed=2, keep_versions=2)
    assert versions(out) == ["2", "3"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary directory left


def test_a_failed_or_concurrent_export_changes_nothing(tmp_path, monkeypatch):
    from charkeras.exporting import writer

    out = tmp_path / "model"
    (out / "1").mkdir(parents=True)
    (out / "1" / "saved_model.pb").write_bytes(b"v1")
    (out / "card.json").write_text('{"previous": true}')
    (out / ".export-stale.tmp").mkdir()  # left by a killed export

    def broken(saved_model, variant):
        assert (saved_model / "saved_model.pb").is_file()  # after the new SavedModel was written
        raise ExportError("conversion failed")

    monkeypatch.setattr(writer, "convert_tflite", broken)
    with pytest.raises(ExportError, match="conversion failed"):
        write(out)
    assert sorted(p.name for p in out.iterdir()) == ["1", "card.json"]  # the stale temporary went too
    assert json.loads((out / "card.json").read_text()) == {"previous": True}

    fd = os.open(out, os.O_RDONLY)  # another export holds the directory
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(ExportError, match="another export is writing"):
            write(out)
    finally:
        os.close(fd)
    assert sorted(p.name for p in out.iterdir()) == ["1", "card.json"]


@pytest.mark.slow
def test_force_replaces_only_a_directory_that_is_not_an_export(tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    (out / "notes.txt").write_text("old")
    with pytest.raises(ExportError, match="--force"):
        write(out)
    write(out, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["1", "card.json", "model.tflite", "model_fp16.tflite"]
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    with pytest.raises(ExportError, match="training run"):
        write(run, force=True)
    assert sorted(p.name for p in run.iterdir()) == ["config.json"]
    (run / ".charkeras-run").write_text("{}")
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "keep.txt").write_text("x")
    with pytest.raises(ExportError, match="inside a training run"):
        write(run / "checkpoints", force=True)  # never part of a run
    with pytest.raises(ExportError, match="SavedModel version directory"):
        write(out / "1", force=True)  # nor a version directory of an export
    assert (run / "checkpoints" / "keep.txt").exists() and (out / "1" / "saved_model.pb").exists()


def test_keep_versions_must_be_positive(tmp_path):
    with pytest.raises(ExportError, match="--keep-versions must be >= 1"):
        write(tmp_path / "model", keep_versions=0)
    assert not (tmp_path / "model").exists()


def test_the_shipped_export_still_loads_in_every_runtime():
    from conftest import REPO

    from charkeras.runtime.loading import load

    shipped = REPO / "saved_models" / "shakespeare"
    texts = [load(shipped, runtime=r).generate(40, prime="ROMEO:", seed=1, temperature=0)
             for r in ("tflite", "savedmodel")]
    assert texts[0] == texts[1] and len(texts[0]) == 40


@pytest.mark.slow
def test_an_interrupted_export_never_pairs_files_silently(tmp_path):
    """A kill between the renames of an export into an export leaves a new version directory or new
    .tflite files beside the previous card: charkeras keeps to the card's SavedModel version, and a
    .tflite the card does not describe (its sha256) is refused, never run with the wrong vocabulary."""
    import shutil

    from charkeras.errors import ModelLoadError
    from charkeras.runtime.loading import load

    out, other = tmp_path / "model", tmp_path / "other"
    write(out, seed=0)
    write(other, seed=1)
    assert card(out)["tflite"]["model.tflite"]["sha256"]
    expected = load(out, runtime="savedmodel").generate(50, seed=2, temperature=0)
    shutil.copytree(other / "1", out / "2")  # the new version is in; the card still describes version 1
    assert load(out, runtime="savedmodel").generate(50, seed=2, temperature=0) == expected
    shutil.copy(other / "model.tflite", out / "model.tflite")  # a new .tflite beside the old card
    with pytest.raises(ModelLoadError, match="sha256 differs"):
        load(out, runtime="tflite")
    write(out, seed=1)  # the next export puts everything together again
    assert versions(out) == ["1", "2", "3"]
    assert load(out, runtime="tflite").generate(50, seed=2, temperature=0) == \
        load(other, runtime="tflite").generate(50, seed=2, temperature=0)


def test_a_concurrent_first_export_into_the_same_path_is_refused_not_lost(tmp_path, monkeypatch):
    """Both saw `out` missing; the other renamed its export in first: this one fails, the other stays."""
    from charkeras.exporting import writer

    out = tmp_path / "model"
    write_export = writer._write_export

    def the_other_export_finishes_first(tmp, *args):
        write_export(tmp, *args)
        (out / "1").mkdir(parents=True)
        (out / "card.json").write_text('{"other": true}')

    monkeypatch.setattr(writer, "_write_export", the_other_export_finishes_first)
    with pytest.raises(ExportError, match="created by another export while this one was writing"):
        write(out)
    assert json.loads((out / "card.json").read_text()) == {"other": True}
    assert sorted(p.name for p in out.iterdir()) == ["1", "card.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary directory left


def test_export_into_a_directory_inside_an_export_is_one_error_line(tmp_path):
    from conftest import REPO

    base = tmp_path / "model"
    (base / "1").mkdir(parents=True)
    (base / "card.json").write_text("{}")
    for out in (base / "7", base / "1" / "assets" / "x"):
        result = subprocess.run(
            [sys.executable, "-c", "from charkeras_cli.main import main; main()", "export",
             str(REPO / "saved_models" / "shakespeare"), "--out", str(out)],
            capture_output=True, text=True, check=False, timeout=120, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr.splitlines() == [(f"error: --out {out} is inside the export {base}; give a "
                                               f"directory outside it (or {base} itself to add a version)")]
    assert sorted(p.name for p in base.iterdir()) == ["1", "card.json"]
    assert not (base / "1" / "assets").exists()


def test_the_export_lock_is_the_one_flock_probe(tmp_path, monkeypatch):
    # One lock probe in the package (charkeras.atomic.try_lock): an export that finds the directory
    # held refuses before writing anything, through that probe.
    from charkeras.exporting import writer

    out = tmp_path / "model"
    out.mkdir()
    (out / "notes.txt").write_text("kept")
    probed = []
    monkeypatch.setattr(writer, "try_lock", lambda fd: probed.append(fd) or False)
    with pytest.raises(ExportError, match="another export is writing"), writer._export_lock(out):
        pass
    assert len(probed) == 1
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
