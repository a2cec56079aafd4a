import json
from pathlib import Path

import numpy as np
import pytest
from charkeras_cli.main import main
from click.testing import CliRunner

from charkeras.inspect.evaluation import split_tail

TEXT = (Path(__file__).resolve().parents[1] / "data" / "tinyshakespeare.txt").read_text()[:8000]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from charkeras.config import CharConfig
    from charkeras.train.driver import fit

    root = tmp_path_factory.mktemp("evalrun")
    (root / "c.txt").write_text(TEXT)
    cfg = CharConfig().replace(model={"units": 16, "layers": 2, "embedding_dim": 8, "dropout": 0.0},
                               data={"batch_size": 4, "seq_len": 32, "val_frac": 0.2},
                               train={"epochs": 1, "sample_every": 0, "checkpoint_every": 0})
    fit(root / "c.txt", root / "run", cfg, verbose=0, cache_dir=root / "cache")
    return root


def _evaluate(*args):
    return CliRunner().invoke(main, ["evaluate", *map(str, args)])


def test_split_tail_matches_the_standard_validation_cut():
    head, tail = split_tail("x" * 1_115_394, 0.1)
    assert (len(head), len(tail)) == (1_003_854, 111_540)


@pytest.mark.slow
def test_loss_equals_a_step_by_step_recomputation(tiny_run):
    from charkeras.runtime.loading import load

    result = _evaluate(tiny_run / "run", "--text", tiny_run / "c.txt", "--tail", "0.05", "--baseline", "ngram",
                       "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    text = TEXT[int(len(TEXT) * 0.95):]
    model = load(tiny_run / "run")
    ids, state, nll = model.vocab.encode(text), model.zero_state(1), 0.0
    for i in range(len(ids) - 1):
        logits, state = model.step(ids[i:i + 1], state)
        logits = logits[0].astype(np.float64)
        nll += np.log(np.exp(logits - logits.max()).sum()) + logits.max() - logits[ids[i + 1]]
    assert report["model"]["scored"] == len(text) - 1
    assert report["model"]["nats_per_char"] == pytest.approx(nll / (len(text) - 1), rel=1e-4)
    assert report["model"]["bpc"] == pytest.approx(report["model"]["nats_per_char"] / np.log(2))
    assert report["ngram"]["order"] >= 1 and report["ngram"]["scored"] == len(text) - 1


def test_ngram_baseline_needs_a_training_text(tiny_run):
    result = _evaluate(tiny_run / "run", "--text", tiny_run / "c.txt", "--baseline", "ngram")
    assert result.exit_code == 2 and "--train-text" in result.output and "Traceback" not in result.output


def test_bad_tail_and_missing_text(tiny_run):
    bad_tail = _evaluate(tiny_run / "run", "--text", tiny_run / "c.txt", "--tail", "1.5")
    assert bad_tail.exit_code == 2 and "--tail must be in (0, 1)" in bad_tail.output
    missing = _evaluate(tiny_run / "run", "--text", tiny_run / "nope.txt")
    assert missing.exit_code == 2 and "not found" in missing.output
