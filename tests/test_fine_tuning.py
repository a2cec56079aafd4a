"""Fine-tuning, `fit CORPUS --init-from MODEL`: a run started from a training run or an export.

Tiny bases (a 2x16 run trained one epoch, a random 2x16 export) and corpora of a few KB; the shipped
model only where its knowledge is the point (the first validation on its own text).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from charkeras_cli.main import main
from click.testing import CliRunner
from model_factory import REPO, export_random_model, train_tiny_run

SHAKESPEARE = (REPO / "data" / "tinyshakespeare.txt").read_text(encoding="utf-8")
SHIPPED = REPO / "saved_models" / "shakespeare"
NEW_CHARS = "é—½✓€"  # not in tiny Shakespeare: the merged vocabulary must append them
TINY = ["--batch-size", "4", "--seq-len", "16", "--val-frac", "0.2", "--checkpoint-every", "3",
        "--keep-checkpoints", "2", "--sample-every", "1000", "--sample-len", "10", "--quiet"]


def _invoke(*args):
    return CliRunner().invoke(main, list(map(str, args)))


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    return train_tiny_run(tmp_path_factory.mktemp("base"))


@pytest.fixture
def new_corpus(tmp_path):
    """Shakespeare the base did not train on, with characters it never saw."""
    path = tmp_path / "new.txt"
    path.write_text(SHAKESPEARE[6000:10000] + "\nCafé — ½ ✓ 5 € 6\n" * 20, encoding="utf-8")
    return path


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_fine_tune_from_a_run_takes_its_shape_ids_and_records_its_lineage(base_run, new_corpus,
                                                                          tmp_path):
    out = tmp_path / "ft"
    result = _invoke("fit", new_corpus, "--init-from", base_run, "--out", out, "--max-steps", "3",
                     *TINY)
    assert result.exit_code == 0, result.output
    config, base_config = _json(out / "config.json"), _json(base_run / "config.json")
    for name in ("layers", "units", "embedding_dim", "dropout"):  # the base's, not by corpus size
        assert config["model"][name] == base_config["model"][name]
    assert config["train"]["init_from"] == str(base_run.resolve())
    assert (config["train"]["learning_rate"], config["train"]["warmup_steps"]) == (4e-3, 10)
    assert config["train"]["sizing"].startswith(f"fine-tuning from {base_run.resolve()}: ")
    vocab, base_vocab = _json(out / "vocab.json"), _json(base_run / "vocab.json")["tokens"]
    assert vocab["tokens"][:len(base_vocab)] == base_vocab  # every base id kept
    assert vocab["origins"]["base_tokens"] == len(base_vocab)
    assert set(NEW_CHARS) <= set(vocab["origins"]["added"])
    assert vocab["tokens"][len(base_vocab):] == vocab["origins"]["added"]
    lineage = _json(out / "run.json")["base"]
    best = _json(base_run / "checkpoints" / "best" / "meta.json")
    assert (lineage["kind"], lineage["checkpoint"], lineage["val_loss"]) == (
        "run", "best", best["val_loss"])
    assert len(lineage["weights_sha256"]) == 64
    info = _invoke("info", out)
    assert f"started from   {base_run.resolve()} (run, checkpoint best" in info.output


def test_merged_corpus_keeps_base_ids_and_appends_new_rows(base_run, new_corpus, tmp_path):
    from charkeras.runtime.base_loading import load_base
    from charkeras.text.id_cache import load_corpus
    from charkeras.train.fine_tuning import first_weights, merged_corpus

    base = load_base(base_run)
    corpus, merged = merged_corpus(load_corpus(new_corpus, cache_dir=tmp_path / "c"), base)
    n_base = len(base.vocab)
    assert merged.vocab.tokens[:n_base] == base.vocab.tokens
    assert set(NEW_CHARS) <= set(merged.added)
    assert corpus.vocab.decode(corpus.ids) == new_corpus.read_text(encoding="utf-8")
    weights = first_weights(base, merged, corpus.ids, seed=1)
    (embedding,), (kernel, bias) = weights["embedding"], weights["logits"]
    assert embedding.shape[0] == kernel.shape[1] == bias.shape[0] == len(merged.vocab)
    np.testing.assert_array_equal(embedding[:n_base], base.weights["embedding"][0])
    np.testing.assert_array_equal(bias[:n_base], base.weights["logits"][1])
    assert np.all(np.isfinite(embedding[n_base:])) and np.all(bias[n_base:] < bias[2:n_base].max())


def test_a_merged_vocabulary_past_256_ids_encodes_in_uint16(tmp_path):
    from charkeras.config import ModelConfig
    from charkeras.model.vocab_transfer import BaseModel
    from charkeras.text.id_cache import load_corpus
    from charkeras.text.vocabulary import Vocabulary
    from charkeras.train.fine_tuning import merged_corpus

    chars = [chr(0x400 + i) for i in range(250)]  # 252 ids: the base's own ids fit uint8
    base = BaseModel(ModelConfig(vocab_size=252), Vocabulary(chars), {}, {})
    text = "".join(chars[:20]) + "abcdefghij" * 30
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    plain = load_corpus(tmp_path / "t.txt", cache_dir=tmp_path / "c")
    corpus, merged = merged_corpus(plain, base)
    assert plain.ids.dtype == np.uint8 and corpus.ids.dtype == np.uint16
    assert len(merged.vocab) == 262 and merged.added == tuple("abcdefghij")
    assert corpus.vocab.decode(corpus.ids) == text


@pytest.mark.slow
def test_fine_tune_from_an_export_and_export_it_with_its_lineage(new_corpus, tmp_path):
    import charkeras
    from charkeras.artifact.card import read_card

    export_random_model(tmp_path / "base", units=16, layers=2, embedding_dim=8)
    config = charkeras.CharConfig().replace(
        data={"batch_size": 4, "seq_len": 16, "val_frac": 0.2},
        train={"max_steps": 3, "sample_every": 1000, "checkpoint_every": 3})
    charkeras.fit(new_corpus, tmp_path / "ft", config, init_from=tmp_path / "base", verbose=0)
    lineage = _json(tmp_path / "ft" / "run.json")["base"]
    assert lineage["kind"] == "export" and lineage["path"] == str((tmp_path / "base").resolve())
    assert _json(tmp_path / "ft" / "config.json")["model"]["units"] == 16
    charkeras.export(tmp_path / "ft", tmp_path / "ft-export")
    card = read_card(tmp_path / "ft-export")  # schema-checked, the base included
    assert card["training"]["base"] == lineage
    assert "started from" in _invoke("info", tmp_path / "ft-export").output


@pytest.mark.slow
def test_first_validation_on_the_bases_own_text_is_far_below_scratch(tmp_path):
    from charkeras.inspect.describe import validations_by_step

    corpus = tmp_path / "own.txt"
    corpus.write_text(SHAKESPEARE[:8000], encoding="utf-8")
    common = ["--batch-size", "4", "--seq-len", "50", "--max-steps", "1", "--val-every", "1",
              "--val-batches", "2", "--sample-every", "1000", "--quiet"]
    first = {}
    for name, extra in (("scratch", ["--units", "64", "--layers", "1"]),
                        ("tuned", ["--init-from", SHIPPED])):
        result = _invoke("fit", corpus, "--out", tmp_path / name, *common, *extra)
        assert result.exit_code == 0, result.output
        first[name] = validations_by_step(tmp_path / name)[1]
    assert first["tuned"] < 0.6 * first["scratch"], first


def _final_variables(run: Path, step: int) -> dict:
    with np.load(run / "checkpoints" / f"ckpt-{step:09d}" / "variables.npz") as npz:
        return {key: npz[key] for key in npz.files}


def _cli(*args, kill_after: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("CHARKERAS_TEST_KILL_AFTER", None)
    if kill_after:
        env["CHARKERAS_TEST_KILL_AFTER"] = kill_after
    return subprocess.run([sys.executable, "-m", "charkeras_cli.main", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=180, check=False)


@pytest.mark.slow
def test_a_fine_tuned_run_resumes_exactly_from_start_up_and_mid_run(base_run, new_corpus,
                                                                     tmp_path):
    """Killed at start-up (no checkpoint yet: the resume starts again from the base), then between
    checkpoints; the last checkpoint equals an unbroken run's bit for bit."""
    args = ["fit", new_corpus, "--init-from", base_run, "--max-steps", "9", "--dropout", "0.1",
            "--val-every", "4", *TINY]
    unbroken = _cli(*args, "--out", tmp_path / "a")
    assert unbroken.returncode == 0, unbroken.stderr
    chain = tmp_path / "b"
    for kill in ("startup", "step:5"):
        resume = ["fit", "--resume", chain] if (chain / "config.json").is_file() else []
        killed = _cli(*(resume or [*args, "--out", chain]), kill_after=kill)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
    done = _cli("fit", "--resume", chain, "--quiet")
    assert done.returncode == 0, done.stderr
    expected, got = _final_variables(tmp_path / "a", 9), _final_variables(chain, 9)
    assert expected.keys() == got.keys()
    for key in expected:
        np.testing.assert_array_equal(expected[key], got[key], err_msg=key)


def _one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert "Traceback" not in result.output and len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and all(f in lines[0] for f in fragments), lines[0]


def test_a_shape_option_other_than_the_bases_is_one_error_line(base_run, new_corpus, tmp_path):
    result = _invoke("fit", new_corpus, "--init-from", base_run, "--units", "32",
                     "--out", tmp_path / "r", *TINY)
    _one_line_error(result, "--units 32 (the base has 16)")
    assert not (tmp_path / "r").exists()


def test_the_bases_own_shape_may_be_given(base_run, new_corpus, tmp_path):
    result = _invoke("fit", new_corpus, "--init-from", base_run, "--units", "16", "--layers", "2",
                     "--out", tmp_path / "r", "--max-steps", "1", *TINY)
    assert result.exit_code == 0, result.output


def test_init_from_with_resume_is_one_error_line(base_run, tmp_path):
    _one_line_error(_invoke("fit", "--resume", base_run, "--init-from", base_run),
                    "--init-from starts a new run")


def _bad_base(root: Path, kind: str) -> Path:
    """A path that is no base: missing, a file, a directory of other files, a damaged run."""
    path = root / kind
    if kind == "file":
        path.write_text("x")
    elif kind != "missing":
        path.mkdir()
        name = "config.json" if kind == "damaged-run" else "notes.txt"
        (path / name).write_text("{garbage")
    return path


@pytest.mark.parametrize("kind, fragment", [
    ("missing", "model not found"), ("file", "is a file"),
    ("other-files", "neither a charkeras export"), ("damaged-run", "config.json"),
])
def test_a_missing_or_garbage_base_is_one_error_line(kind, fragment, new_corpus, tmp_path):
    base = _bad_base(tmp_path, kind)
    result = _invoke("fit", new_corpus, "--init-from", base, "--out", tmp_path / "r", *TINY)
    _one_line_error(result, f"--init-from {base.resolve()}", fragment)
    assert not (tmp_path / "r").exists()


def test_a_python_configs_fields_left_at_their_defaults_take_the_fine_tuning_defaults():
    from charkeras.config import CharConfig
    from charkeras.train.fine_tuning import left_at_defaults

    config = CharConfig().replace(model={"units": 32}, train={"learning_rate": 1e-3})
    left = set(left_at_defaults(config))
    assert {"layers", "embedding_dim", "dropout", "batch_size", "seq_len", "warmup_steps"} <= left
    assert not {"units", "learning_rate"} & left
