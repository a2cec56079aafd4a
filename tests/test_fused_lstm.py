"""FusedLSTM computes keras.layers.LSTM's function, gradients and carried state, with its weights."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from charkeras.config import CharConfig, ModelConfig
from charkeras.errors import ConfigError
from charkeras.model import fused_lstm as fast_lstm
from charkeras.model import lstm_layout
from charkeras.model.carried_state import reset_states
from charkeras.model.fused_lstm import LAYOUTS, FusedLSTM, lstm_sequence, resolve_lstm_impl
from charkeras.model.networks import build_training_model
from charkeras.train.run.checkpoints import _generic

B, T, D, U = 3, 7, 5, 6
TOL = {"rtol": 1e-5, "atol": 1e-5}


def _random(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype("float32")


def _stateful_pair(rng, chunk_steps, batch_groups, layout="auto"):
    """A keras.layers.LSTM and a FusedLSTM, stateful, holding the same random weights (bias too)."""
    layers = []
    fused_args = {"chunk_steps": chunk_steps, "batch_groups": batch_groups, "layout": layout}
    for cls, kwargs in ((keras.layers.LSTM, {}), (FusedLSTM, fused_args)):
        layer = cls(U, stateful=True, return_sequences=True, name="lstm_0", **kwargs)
        layer.build((B, T, D))
        layers.append(layer)
    weights = [_random(rng, D, 4 * U, scale=0.5), _random(rng, U, 4 * U, scale=0.5), _random(rng, 4 * U, scale=0.5)]
    for layer in layers:
        layer.cell.set_weights(weights)
    return layers


def _outputs_and_gradients(layer, x, probe):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = layer(x)
        loss = tf.reduce_sum(out * probe)  # a random projection, so no gradient is trivially uniform
    cell = layer.cell
    grads = tape.gradient(loss, [x, cell.kernel, cell.recurrent_kernel, cell.bias])
    return [np.asarray(out)] + [np.asarray(g) for g in grads]


# chunk 3 leaves a short last chunk, 10 > T is a single chunk; 2 groups of 3 rows are uneven
@pytest.mark.parametrize("chunk_steps, batch_groups", [(1, 1), (3, 2), (10, 3)])
@pytest.mark.parametrize("carried", [False, True], ids=["zero-state", "carried-state"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_outputs_gradients_and_carried_state_match_keras(chunk_steps, batch_groups, carried, layout):
    rng = np.random.default_rng(chunk_steps + 10 * carried)
    keras_layer, fused_layer = _stateful_pair(rng, chunk_steps, batch_groups, layout)
    first, second, probe = _random(rng, B, T, D), _random(rng, B, T, D), _random(rng, B, T, U)
    if carried:  # a first batch leaves a state that the second continues from
        for layer in (keras_layer, fused_layer):
            layer(tf.constant(first))
        assert np.abs(np.asarray(fused_layer.states[0])).max() > 0.05
    expected = _outputs_and_gradients(keras_layer, second, probe)
    got = _outputs_and_gradients(fused_layer, second, probe)
    for name, e, g in zip(["outputs", "d inputs", "d kernel", "d recurrent_kernel", "d bias"], expected, got):
        np.testing.assert_allclose(g, e, err_msg=name, **TOL)
    for e, g in zip(keras_layer.states, fused_layer.states):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), **TOL)
    fused_layer.reset_state()
    assert all(not np.asarray(s).any() for s in fused_layer.states)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_gradients_reach_initial_and_final_states(layout):
    """lstm_sequence on its own: final (h, c) and the gradients of the initial state agree too."""
    rng = np.random.default_rng(7)
    x, h0, c0 = (tf.constant(_random(rng, B, T, D)), tf.constant(_random(rng, B, U)),
                 tf.constant(_random(rng, B, U)))
    reference = keras.layers.LSTM(U, return_sequences=True, return_state=True)
    reference(x, initial_state=[h0, c0])
    reference.cell.set_weights([_random(rng, *w.shape, scale=0.5) for w in reference.cell.get_weights()])
    probes = [tf.constant(_random(rng, B, T, U)), tf.constant(_random(rng, B, U)), tf.constant(_random(rng, B, U))]
    weights = [tf.constant(w) for w in reference.cell.get_weights()]  # kernel, recurrent_kernel, bias

    def outputs_and_gradients(fn, weight_sources):
        with tf.GradientTape() as tape:
            tape.watch([x, h0, c0, *weights])
            results = fn()
            loss = sum(tf.reduce_sum(r * p) for r, p in zip(results, probes))
        grads = tape.gradient(loss, [x, h0, c0, *weight_sources])
        return [np.asarray(v) for v in [*results, *grads]]

    expected = outputs_and_gradients(lambda: reference(x, initial_state=[h0, c0]),
                                     [reference.cell.kernel, reference.cell.recurrent_kernel, reference.cell.bias])
    got = outputs_and_gradients(lambda: lstm_sequence(x, h0, c0, *weights, chunk_steps=3, batch_groups=2,
                                                      layout=layout), weights)
    names = ["outputs", "h_T", "c_T", "d x", "d h0", "d c0", "d kernel", "d recurrent_kernel", "d bias"]
    for name, e, g in zip(names, expected, got):
        np.testing.assert_allclose(g, e, err_msg=name, **TOL)


def test_same_variable_paths_shapes_and_initial_weights_as_keras():
    cfg = ModelConfig(vocab_size=11, embedding_dim=4, units=6, layers=2, dropout=0.0)
    models = {impl: build_training_model(ModelConfig(**{**cfg.__dict__, "lstm_impl": impl}), 2, 5, seed=3)
              for impl in ("keras", "fused")}
    assert isinstance(models["fused"].get_layer("lstm_1"), FusedLSTM)
    assert not isinstance(models["keras"].get_layer("lstm_1"), FusedLSTM)
    # compared as checkpoint.py compares them on resume (auto-numbered names made generic)
    paths = {impl: [(_generic(v.path), tuple(v.shape)) for v in m.variables] for impl, m in models.items()}
    assert paths["fused"] == paths["keras"]
    assert "lstm_0/lstm_cell/recurrent_kernel" in [v.path for v in models["fused"].variables]
    for a, b in zip(models["keras"].get_weights(), models["fused"].get_weights()):
        np.testing.assert_array_equal(a, b)  # same seed: same glorot/orthogonal/unit-forget-bias draws


def test_config_round_trip():
    layer = FusedLSTM(5, chunk_steps=4, batch_groups=2, layout="row", stateful=True, return_sequences=True,
                      name="lstm_0")
    config = layer.get_config()
    assert config["chunk_steps"] == 4 and config["batch_groups"] == 2 and config["layout"] == "row"
    assert config["stateful"] and config["units"] == 5
    clone = FusedLSTM.from_config(config)
    assert clone.get_config() == config
    assert keras.saving.get_registered_object("charkeras>FusedLSTM") is FusedLSTM
    with pytest.raises(ValueError, match="chunk_steps"):
        FusedLSTM(5, chunk_steps=0)
    with pytest.raises(ValueError, match="batch_groups"):
        FusedLSTM(5, batch_groups=0)
    with pytest.raises(ValueError, match="layout"):
        FusedLSTM(5, layout="columns")


def test_auto_layout_is_timed_once_per_shape_and_kept_by_the_layer(monkeypatch):
    timed = []

    def fake_timing(rows, units):
        timed.append((rows, units))
        return "row"

    monkeypatch.setattr(lstm_layout, "_faster_layout", fake_timing)
    monkeypatch.setattr(lstm_layout, "_CHOSEN", {})
    monkeypatch.setattr(fast_lstm, "cpu_cores", lambda: 2)
    assert fast_lstm.resolve_layout("auto", 64, 256) == "row"
    assert fast_lstm.resolve_layout("auto", 64, 256) == "row"
    assert fast_lstm.resolve_layout("feature", 64, 256) == "feature"
    assert timed == [(32, 256)]  # 64 streams in two recurrences of 32 rows, timed once
    assert fast_lstm.resolve_layout("auto", 8, 16) == "feature" and len(timed) == 1  # too small to time
    layer = FusedLSTM(256, return_sequences=True)
    layer(tf.zeros((4, T, D)))
    assert layer.layout == "row" and timed[-1] == (4, 256)  # 4 rows: one recurrence


def test_row_major_is_chosen_only_when_clearly_faster(monkeypatch):
    times = {"feature": 1.0, "row": 0.95}
    monkeypatch.setattr(lstm_layout.time, "perf_counter", _fake_clock(times))
    assert lstm_layout._faster_layout(32, 256, products=1, rounds=1) == "feature"  # 5% is within the margin
    times["row"] = 0.8
    assert lstm_layout._faster_layout(32, 256, products=1, rounds=1) == "row"


def _fake_clock(durations):
    """perf_counter for _faster_layout: each timed block (feature first, then row) lasts durations[name]."""
    state = {"now": 0.0, "calls": 0}

    def clock():
        name = ("feature", "row")[(state["calls"] // 2) % 2]
        if state["calls"] % 2:  # the end of a block
            state["now"] += durations[name]
        state["calls"] += 1
        return state["now"]
    return clock


def test_the_real_timing_answers_a_layout_also_while_a_graph_is_traced(monkeypatch):
    monkeypatch.setattr(lstm_layout, "_CHOSEN", {})
    chosen = []
    # 16 rows x 256 units is large enough to be timed (smaller layers skip the timing)
    tf.function(lambda: chosen.append(lstm_layout.choose_lstm_layout(16, 256)) or tf.constant(0))()
    assert chosen and chosen[0] in LAYOUTS and (16, 256) in lstm_layout._CHOSEN


def test_default_batch_groups_use_every_core_within_the_row_minimum(monkeypatch):
    monkeypatch.setattr(fast_lstm, "cpu_cores", lambda: 2)
    assert [fast_lstm.default_batch_groups(b) for b in (None, 8, 16, 32, 64)] == [1, 1, 1, 2, 2]
    monkeypatch.setattr(fast_lstm, "cpu_cores", lambda: 16)
    assert fast_lstm.default_batch_groups(64) == 64 // fast_lstm.MIN_GROUP_ROWS


_THREADS_PROBE = """
import sys, tensorflow as tf
from charkeras.machine import cpu_cores
from charkeras.threads import configure_training_threads
if sys.argv[1] == "started":
    tf.constant(1.0) + 1.0  # starts the runtime
applied = configure_training_threads()
print(applied, tf.config.threading.get_intra_op_parallelism_threads(),
      tf.config.threading.get_inter_op_parallelism_threads(), cpu_cores(),
      bool(tf.config.list_physical_devices("GPU")))
"""


@pytest.mark.slow
@pytest.mark.parametrize("case", ["fresh", "env", "started"])
def test_configure_training_threads(case):
    """One thread per op, one op per core; explicit TF_NUM_*_THREADS win; too late once TF runs."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("TF_NUM_INTRAOP_THREADS", None)
    env.pop("TF_NUM_INTEROP_THREADS", None)
    if case == "env":
        env["TF_NUM_INTRAOP_THREADS"] = "3"
    out = subprocess.run([sys.executable, "-c", _THREADS_PROBE, case], capture_output=True, text=True, env=env,
                         check=True).stdout.split()
    applied, intra, inter, cores, gpu = out[0] == "True", int(out[1]), int(out[2]), int(out[3]), out[4] == "True"
    if gpu or case == "started":
        assert not applied
        return
    assert applied
    assert inter == cores
    assert intra == (0 if case == "env" else 1)  # 0: TensorFlow reads TF_NUM_INTRAOP_THREADS itself


def test_unsupported_configuration_runs_keras_loop_with_same_result():
    """Cell dropout is not fused: the layer falls back to Keras's loop (in inference, dropout is off)."""
    rng = np.random.default_rng(3)
    x = tf.constant(_random(rng, B, T, D))
    fused = FusedLSTM(U, dropout=0.5, return_sequences=True)
    stock = keras.layers.LSTM(U, return_sequences=True)
    fused(x)
    stock(x)
    stock.set_weights(fused.get_weights())
    assert not fused._fused_kernel_applies(x, None)
    np.testing.assert_allclose(np.asarray(fused(x, training=True)).shape, (B, T, U))
    np.testing.assert_allclose(np.asarray(fused(x)), np.asarray(stock(x)), **TOL)


def test_training_model_gives_the_same_loss_and_gradients_with_either_layer():
    cfg = ModelConfig(vocab_size=13, embedding_dim=4, units=8, layers=2, dropout=0.3)
    rng = np.random.default_rng(5)
    batches = [rng.integers(0, 13, size=(4, 9)).astype("int32") for _ in range(3)]
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    results = {}
    for impl in ("keras", "fused"):
        model = build_training_model(ModelConfig(**{**cfg.__dict__, "lstm_impl": impl}), 4, 9, seed=1)
        if impl == "fused":
            model.set_weights(results["keras"]["weights"])  # same weights, whatever the initialisers drew
        reset_states(model)
        losses, grads = [], None
        for i in range(len(batches) - 1):  # stateful: each batch continues the previous one
            with tf.GradientTape() as tape:
                loss = loss_fn(batches[i + 1], model(batches[i], training=False))
            grads = tape.gradient(loss, model.trainable_variables)
            losses.append(float(loss))
        results[impl] = {"weights": model.get_weights(), "losses": losses, "grads": [np.asarray(tf.convert_to_tensor(g)) for g in grads]}
    np.testing.assert_allclose(results["fused"]["losses"], results["keras"]["losses"], **TOL)
    for e, g in zip(results["keras"]["grads"], results["fused"]["grads"]):
        np.testing.assert_allclose(g, e, **TOL)


def test_auto_picks_cudnn_keras_layer_with_a_gpu_and_fused_without(monkeypatch):
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: ["GPU:0"] if kind == "GPU" else [])
    assert resolve_lstm_impl("auto") == "keras"
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    assert resolve_lstm_impl("auto") == "fused"
    assert resolve_lstm_impl("keras") == "keras"


def test_config_field_is_validated_and_old_configs_load():
    with pytest.raises(ConfigError, match="--lstm-impl"):
        CharConfig().replace(model={"lstm_impl": "cudnn"}).validate()
    with pytest.raises(ConfigError, match="--lstm-layout"):
        CharConfig().replace(model={"lstm_layout": "columns"}).validate()
    old = CharConfig().to_dict()
    del old["model"]["lstm_impl"], old["model"]["lstm_layout"]  # a config.json written before the fields existed
    assert CharConfig.from_dict(old).model.lstm_impl == "auto"
    assert CharConfig.from_dict(old).model.lstm_layout == "auto"


@pytest.mark.slow
def test_fused_run_checkpoint_loads_into_keras_layer_model(tmp_path, shakespeare_slice, tiny_config):
    """fit with the fused layer; its checkpoint and step model work with the stock layer unchanged."""
    from charkeras.model.weights import inference_model_from
    from charkeras.train.driver import fit
    from charkeras.train.run.checkpoints import load_checkpoint
    from charkeras.train.run.directory import RunDir

    config = tiny_config.replace(model={"lstm_impl": "fused"}, train={"epochs": 1})
    model, history = fit(shakespeare_slice, tmp_path / "run", config, verbose=0)
    assert np.isfinite(history["val_loss"][-1])
    stored = RunDir(tmp_path / "run").read_config()
    assert stored.model.lstm_impl == "fused"
    assert stored.model.lstm_layout in LAYOUTS  # timed at the start and recorded for a resume
    keras_model = build_training_model(stored.model.__class__(**{**stored.model.__dict__, "lstm_impl": "keras"}),
                                       config.data.batch_size, config.data.seq_len)
    load_checkpoint(RunDir(tmp_path / "run").latest_checkpoint(), keras_model)
    x = np.arange(config.data.batch_size * config.data.seq_len, dtype="int32").reshape(
        config.data.batch_size, config.data.seq_len) % stored.model.vocab_size
    reset_states(model)
    reset_states(keras_model)
    np.testing.assert_allclose(np.asarray(keras_model(x)), np.asarray(model(x)), **TOL)
    step = inference_model_from(model, stored.model)
    state = np.zeros((1, 2 * stored.model.layers, stored.model.units), "float32")
    out = step({"char_id": x[:1, 0], "state": state})
    reset_states(model)
    first = np.asarray(model(x))[:1, 0]  # the training model's first step from a zero state
    np.testing.assert_allclose(np.asarray(out["logits"]), first, **TOL)


def test_cli_offers_the_choice_and_rejects_unknown_kernels(tmp_path):
    from charkeras_cli.main import main
    from click.testing import CliRunner

    help_text = CliRunner().invoke(main, ["fit", "--help"]).output
    assert "--lstm-impl" in help_text and "auto" in help_text
    corpus = tmp_path / "c.txt"
    corpus.write_text("abc" * 100)
    result = CliRunner().invoke(main, ["fit", str(corpus), "--out", str(tmp_path / "r"), "--lstm-impl", "cudnn"])
    assert result.exit_code == 2 and "cudnn" in result.output
    assert not (tmp_path / "r").exists()
