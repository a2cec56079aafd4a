"""Library calls leave the process alone (issue 11, finding 11): `load`, `generate`, `score` and
`export` do not reseed Python, NumPy, TensorFlow or Keras, and model building is deterministic from
its own seed whatever the global state; `fit`'s thread settings can be skipped."""

from __future__ import annotations

import random

import numpy as np
import pytest

from charkeras.config import ModelConfig

CFG = ModelConfig(vocab_size=12, embedding_dim=6, units=10, layers=2, dropout=0.3)


def process_state():
    """Everything a careless library call could change: the global RNGs and seeds, the thread pools."""
    import tensorflow as tf
    from keras.src.utils.rng_utils import get_random_seed
    from tensorflow.python.eager import context

    np_state = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": (np_state[0], np_state[1].tobytes(), *np_state[2:]),
        "tensorflow_seed": context.global_seed(),
        "keras_seed": get_random_seed(),
        "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def test_building_models_leaves_the_global_random_state_alone():
    from charkeras.model.networks import build_inference_model, build_training_model

    random.seed(11)
    np.random.seed(12)
    before = process_state()
    build_training_model(CFG, 2, 4, seed=7)
    build_inference_model(CFG, seed=3)
    assert process_state() == before


@pytest.mark.parametrize("impl", ["fused", "keras"])
def test_initial_weights_depend_on_the_seed_only(impl):
    import tensorflow as tf

    from charkeras.model.networks import build_training_model

    cfg = ModelConfig(vocab_size=12, embedding_dim=6, units=10, layers=2, dropout=0.3, lstm_impl=impl)
    a = [np.asarray(v) for v in build_training_model(cfg, 2, 4, seed=7).variables]
    saved = random.getstate(), np.random.get_state()
    try:
        random.seed(99)
        np.random.seed(98)
        tf.random.set_seed(97)
        random.random()
        b = [np.asarray(v) for v in build_training_model(cfg, 2, 4, seed=7).variables]
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        tf.random.set_seed(None)
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_the_weights_are_those_set_random_seed_gave(monkeypatch):
    """The earlier code called keras.utils.set_random_seed(seed) before building; the weights (and so
    every run's training) are unchanged by building under keras_seeds_from instead."""
    import keras

    from charkeras.model import networks

    new = [np.asarray(v) for v in networks.build_training_model(CFG, 2, 4, seed=5).variables]
    monkeypatch.setattr(networks, "keras_seeds_from", lambda seed: _set_random_seed(keras, seed))
    old = [np.asarray(v) for v in networks.build_training_model(CFG, 2, 4, seed=5).variables]
    assert all(np.array_equal(x, y) for x, y in zip(new, old))


def _set_random_seed(keras, seed):
    import contextlib

    keras.utils.set_random_seed(seed)
    return contextlib.nullcontext()


@pytest.mark.slow
def test_load_generate_score_and_export_leave_the_process_alone(tiny_viz_run, tmp_path):
    from charkeras.exporting.writer import export
    from charkeras.runtime.loading import load

    random.seed(3)
    np.random.seed(4)
    before = process_state()
    run_model = load(tiny_viz_run)
    run_model.generate(20, seed=1)
    run_model.score("Speak, speak.")
    export(tiny_viz_run, tmp_path / "export")
    for runtime in ("savedmodel", "tflite"):
        model = load(tmp_path / "export", runtime=runtime)
        model.generate(10, seed=2, num_samples=2)
        model.score("All: speak")
    assert process_state() == before


def test_fit_can_leave_the_thread_pools_alone(tmp_path, monkeypatch):
    from charkeras.config import CharConfig
    from charkeras.train import driver

    calls = []
    monkeypatch.setattr(driver, "configure_training_threads", lambda: calls.append(1))
    corpus = tmp_path / "c.txt"
    corpus.write_text("abc def ghi\n" * 200, encoding="utf-8")
    config = CharConfig().replace(model={"units": 4, "layers": 1, "embedding_dim": 2, "dropout": 0.0},
                                  data={"batch_size": 2, "seq_len": 8, "val_frac": 0.2},
                                  train={"epochs": 1, "max_steps": 2, "checkpoint_every": 0, "sample_every": 0})
    driver.fit(corpus, tmp_path / "run", config, verbose=0, configure_threads=False)
    assert calls == []


def test_cli_no_thread_settings_reaches_fit(tmp_path, monkeypatch):
    from charkeras_cli.main import main
    from click.testing import CliRunner

    from charkeras.train import driver

    seen = {}
    monkeypatch.setattr(driver, "fit", lambda *a, **k: seen.update(k))
    corpus = tmp_path / "c.txt"
    corpus.write_text("abc\n" * 100, encoding="utf-8")
    result = CliRunner().invoke(main, ["fit", str(corpus), "--out", str(tmp_path / "r"), "--no-thread-settings"])
    assert result.exit_code == 0, result.output
    assert seen["configure_threads"] is False
    CliRunner().invoke(main, ["fit", str(corpus), "--out", str(tmp_path / "r")])
    assert seen["configure_threads"] is True
