"""The export contract: layout, signatures, fresh-process loading, TFLite parity, card, atomic writes."""

import json
import math
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from model_factory import TEXT, export_random_model

from charkeras.errors import ExportError, ModelLoadError

tf = pytest.importorskip("tensorflow")

CONTRACT = {
    "generate": ({"prompt": ([], tf.string), "num_chars": ([], tf.int32), "temperature": ([], tf.float32),
                  "top_k": ([], tf.int32), "seed": ([2], tf.int32)},
                 {"text": ([], tf.string)}),
    "step": ({"char_id": ([None], tf.int32), "state": ([None, 4, 16], tf.float32)},
             {"logits": ([None, None], tf.float32), "state": ([None, 4, 16], tf.float32)}),
    "score": ({"text": ([], tf.string)}, {"nll": ([], tf.float32), "count": ([], tf.int32)}),
    "vocabulary": ({}, {"vocabulary": ([None], tf.string)}),
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "tiny"
    step, _, vocab = export_random_model(out, quantize="int8")
    return out, step, vocab


@pytest.fixture(scope="module")
def loaded(exported):
    return tf.saved_model.load(str(exported[0] / "1"))


def call_generate(sig, prompt="", n=40, temperature=0.8, top_k=0, seed=(1, 2)):
    out = sig(prompt=tf.constant(prompt), num_chars=tf.constant(n), temperature=tf.constant(float(temperature)),
              top_k=tf.constant(top_k), seed=tf.constant(list(seed), tf.int32))
    return out["text"].numpy().decode("utf-8")


def step_logits(loaded, ids):
    """Logits after each id of `ids`, through the `step` signature from the zero state."""
    step = loaded.signatures["step"]
    state = tf.zeros([1, 4, 16])
    rows = []
    for i in ids:
        out = step(char_id=tf.constant([int(i)], tf.int32), state=state)
        rows.append(out["logits"].numpy()[0])
        state = out["state"]
    return np.array(rows)


def log_softmax(x):
    x = x.astype(np.float64)
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_layout_matches_the_contract_and_nothing_is_left_beside_it(exported):
    out = exported[0]
    assert (out / "1" / "saved_model.pb").is_file()
    for name in ("model.tflite", "model_fp16.tflite", "model_int8.tflite", "card.json"):
        assert (out / name).stat().st_size > 0, name
    assert [p.name for p in out.parent.iterdir()] == ["tiny"]  # no temporary directories left


def test_every_weight_is_stored_once(exported):
    """keras-team/keras#23553: tracking the model in ExportArchive stored each weight twice."""
    out, step, _ = exported
    reader = tf.train.load_checkpoint(str(out / "1" / "variables" / "variables"))
    stored = sum(int(np.prod(shape)) for name, shape in reader.get_variable_to_shape_map().items()
                 if reader.get_variable_to_dtype_map()[name] == tf.float32)
    assert stored == sum(int(np.prod(w.shape)) for w in step.weights)


def test_card_holds_config_vocabulary_and_counts(exported):
    out, step, vocab = exported
    card = json.loads((out / "card.json").read_text(encoding="utf-8"))
    assert card["vocabulary"] == vocab.tokens
    assert card["parameters"] == sum(int(np.prod(w.shape)) for w in step.trainable_weights)
    assert card["config"]["model"]["units"] == card["units"] == 16
    assert card["layers"] == 2 and card["vocab_size"] == len(vocab)
    assert card["start_id"] == vocab.encode("\n")[0]
    from charkeras import __version__

    assert card["charkeras_version"] == __version__
    assert set(card["tflite"]) == {"model.tflite", "model_fp16.tflite", "model_int8.tflite"}
    assert card["tflite"]["model.tflite"]["max_abs_logit_diff"] <= 1e-4


def test_signatures_have_the_contract_names_dtypes_and_shapes(loaded, exported):
    vocab = exported[2]
    assert set(CONTRACT) | {"serving_default"} <= set(loaded.signatures)
    for name, (inputs, outputs) in [*CONTRACT.items(), ("serving_default", CONTRACT["generate"])]:
        sig = loaded.signatures[name]
        specs = sig.structured_input_signature[1]
        assert set(specs) == set(inputs), name
        for key, (shape, dtype) in inputs.items():
            assert specs[key].dtype == dtype and specs[key].shape.as_list() == shape, (name, key)
        assert set(sig.structured_outputs) == set(outputs), name
        for key, (shape, dtype) in outputs.items():
            out = sig.structured_outputs[key]
            assert out.dtype == dtype, (name, key)
            assert out.shape.rank == len(shape), (name, key)
    vocabulary = loaded.signatures["vocabulary"]()["vocabulary"].numpy()
    assert [t.decode("utf-8") for t in vocabulary] == vocab.tokens


def test_score_is_the_sum_of_step_log_probabilities(loaded, exported):
    vocab = exported[2]
    text = "First Citizen:\nBefore we proceed"
    ids = vocab.encode(text)
    log_probs = log_softmax(step_logits(loaded, ids[:-1]))
    expected = -sum(log_probs[i, ids[i + 1]] for i in range(len(ids) - 1))
    out = loaded.signatures["score"](text=tf.constant(text))
    assert int(out["count"]) == len(text) - 1
    assert math.isclose(float(out["nll"]), expected, rel_tol=1e-5)
    for short in ("", "a"):
        out = loaded.signatures["score"](text=tf.constant(short))
        assert (float(out["nll"]), int(out["count"])) == (0.0, 0)


def test_greedy_generation_follows_the_argmax_of_step(loaded, exported):
    vocab = exported[2]
    sig = loaded.signatures["generate"]
    text = call_generate(sig, "ROMEO:", n=30, temperature=0.0)
    assert len(text) == 30
    ids, expected = list(vocab.encode("ROMEO:")), []
    for _ in range(30):
        logits = step_logits(loaded, ids)[-1]
        logits[:2] = -np.inf
        ids.append(int(logits.argmax()))
        expected.append(ids[-1])
    assert text == vocab.decode(expected)
    # top_k=1 leaves one candidate, so any temperature and seed give the greedy text
    assert call_generate(sig, "ROMEO:", n=30, temperature=1.5, top_k=1, seed=(5, 9)) == text
    assert call_generate(sig, "ROMEO:", n=30, temperature=-1.0, seed=(5, 9)) == text  # <= 0 is greedy too


def test_sampling_is_seeded_and_a_longer_request_extends_a_shorter_one(loaded):
    sig = loaded.signatures["generate"]
    a = call_generate(sig, "ROMEO:", n=60, temperature=1.0, seed=(3, 4))
    assert call_generate(sig, "ROMEO:", n=60, temperature=1.0, seed=(3, 4)) == a
    assert call_generate(sig, "ROMEO:", n=60, temperature=1.0, seed=(3, 5)) != a
    assert call_generate(sig, "ROMEO:", n=25, temperature=1.0, seed=(3, 4)) == a[:25]
    assert call_generate(sig, "ROMEO:", n=0) == ""


def test_empty_prompt_starts_after_a_newline_and_unknown_characters_do_not_crash(loaded):
    sig = loaded.signatures["generate"]
    assert call_generate(sig, "", seed=(7, 7)) == call_generate(sig, "\n", seed=(7, 7))
    assert len(call_generate(sig, "Жжж 🙂 ROMEO", n=20)) == 20


def test_padding_and_unknown_ids_are_never_sampled(exported):
    """With huge logits on ids 0 and 1, an unmasked sampler would pick them at every step."""
    from charkeras.exporting.signatures import signature_functions

    _, step, vocab = exported
    dense = step.get_layer("logits")
    kernel, bias = dense.get_weights()
    try:
        boosted = bias.copy()
        boosted[:2] = 50.0
        dense.set_weights([kernel, boosted])
        fns = signature_functions(step, vocab, 2, 16)
        for temperature, top_k in ((0.0, 0), (1.0, 0), (2.0, 3)):
            text = call_generate(fns["generate"], "ROMEO:", n=50, temperature=temperature, top_k=top_k)
            assert len(text) == 50 and "[UNK]" not in text
    finally:
        dense.set_weights([kernel, bias])


@pytest.mark.slow
def test_loads_in_a_fresh_process_that_cannot_import_charkeras_or_keras(exported, loaded, tmp_path):
    out, _, vocab = exported
    script = textwrap.dedent(f"""
        import json, sys
        for name in ("charkeras", "keras", "tf_keras"):
            sys.modules[name] = None  # importing them now raises ImportError
        import tensorflow as tf
        m = tf.saved_model.load({str(out / "1")!r})
        def gen(seed):
            return m.signatures["generate"](prompt=tf.constant("ROMEO:"), num_chars=tf.constant(40),
                temperature=tf.constant(0.8), top_k=tf.constant(5), seed=tf.constant(seed))["text"].numpy()
        serving = m.signatures["serving_default"](prompt=tf.constant("ROMEO:"), num_chars=tf.constant(40),
                temperature=tf.constant(0.8), top_k=tf.constant(5), seed=tf.constant([1, 2]))["text"].numpy()
        step = m.signatures["step"](char_id=tf.constant([3, 4]), state=tf.zeros([2, 4, 16]))
        score = m.signatures["score"](text=tf.constant("To be"))
        print(json.dumps({{
            "a": gen([1, 2]).decode(), "b": gen([1, 2]).decode(), "serving": serving.decode(),
            "logits_shape": step["logits"].shape.as_list(), "nll": float(score["nll"]),
            "count": int(score["count"]), "vocab": len(m.signatures["vocabulary"]()["vocabulary"]),
            "keras_loaded": any(k.startswith("keras.") for k in sys.modules),
        }}))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts["a"] == facts["b"] == facts["serving"]
    in_process = call_generate(loaded.signatures["generate"], "ROMEO:", n=40, temperature=0.8, top_k=5)
    assert facts["a"] == in_process and len(in_process) == 40
    assert facts["logits_shape"] == [2, len(vocab)]
    assert facts["count"] == 4 and facts["nll"] > 0
    assert facts["vocab"] == len(vocab)
    assert not facts["keras_loaded"]


def test_tflite_step_matches_the_saved_model_step(exported, loaded):
    Interpreter = pytest.importorskip("ai_edge_litert.interpreter").Interpreter
    out, _, vocab = exported
    ids = vocab.encode((TEXT * 2)[:200])
    reference = step_logits(loaded, ids)
    agreement = {}
    for name in ("model.tflite", "model_fp16.tflite", "model_int8.tflite"):
        runner = Interpreter(model_path=str(out / name)).get_signature_runner("step")
        assert set(runner.get_input_details()) == {"char_id", "state"}
        assert set(runner.get_output_details()) == {"logits", "state"}
        state, rows = np.zeros([1, 4, 16], np.float32), []
        for i in ids:
            result = runner(char_id=np.array([i], np.int32), state=state)
            rows.append(result["logits"][0])
            state = result["state"]
        rows = np.array(rows)
        assert not np.isnan(rows).any(), name
        agreement[name] = (np.abs(rows - reference).max(), np.mean(rows.argmax(-1) == reference.argmax(-1)))
    assert agreement["model.tflite"][0] <= 1e-4
    assert agreement["model_fp16.tflite"][1] >= 0.99
    assert agreement["model_int8.tflite"][1] >= 0.9


@pytest.mark.slow
def test_saved_model_cli_runs_the_generate_signature(exported, loaded):
    result = subprocess.run(
        [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "run", "--dir", str(exported[0] / "1"), "--tag_set", "serve",
         "--signature_def", "generate",
         "--input_exprs", 'prompt="ROMEO:";num_chars=40;temperature=0.8;top_k=0;seed=[1,2]'],
        capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    expected = call_generate(loaded.signatures["generate"], "ROMEO:", n=40, temperature=0.8, seed=(1, 2))
    assert repr(expected.encode("utf-8")) in result.stdout


def test_export_refuses_to_replace_what_it_should_not(tmp_path):
    from charkeras.artifact.layout import check_export_target

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    with pytest.raises(ExportError, match="not a charkeras export.*--force"):
        check_export_target(tmp_path / "notes", force=False)
    assert check_export_target(tmp_path / "notes", force=True) is False  # --force: replace a non-export
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")
    with pytest.raises(ExportError, match="training run"):
        check_export_target(tmp_path / "run", force=True)  # never a training run, even with --force
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "card.json").write_text("{}")
    assert check_export_target(tmp_path / "old", force=False) is True  # an export: add a version
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match="is a file"):
        check_export_target(tmp_path / "file", force=True)


def test_a_failed_export_leaves_the_previous_export_untouched(tmp_path, monkeypatch):
    import charkeras.exporting.writer as export_module

    target = tmp_path / "model"
    target.mkdir()
    (target / "card.json").write_text('{"previous": true}')

    def broken(saved_model, variant):
        assert (saved_model / "saved_model.pb").is_file()  # it failed after writing part of the export
        raise ExportError("conversion failed")

    monkeypatch.setattr(export_module, "convert_tflite", broken)
    with pytest.raises(ExportError, match="conversion failed"):
        export_random_model(target, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert [p.name for p in target.iterdir()] == ["card.json"]
    assert json.loads((target / "card.json").read_text()) == {"previous": True}


def test_exporting_something_that_is_not_a_run_fails_clearly(tmp_path):
    import charkeras
    import charkeras.exporting.writer  # loading the stage's modules must leave charkeras.export the function

    with pytest.raises(ModelLoadError, match="neither a charkeras export"):
        charkeras.export(tmp_path, tmp_path / "out")


# ---- from a real (tiny) training run ----------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_export(tmp_path_factory):
    from model_factory import train_tiny_run

    from charkeras.exporting.writer import export

    root = tmp_path_factory.mktemp("trained")
    train_tiny_run(root)
    export(root / "run", root / "export")
    return root / "run", root / "export"


@pytest.mark.slow
def test_card_records_the_training_facts(trained_export):
    from charkeras.train.run.directory import RunDir

    run_path, out = trained_export
    run = RunDir(run_path)
    card = json.loads((out / "card.json").read_text(encoding="utf-8"))
    best = json.loads((run.best_checkpoint() / "meta.json").read_text())
    training = card["training"]
    assert training["corpus_sha256"] == run.read_run_info()["sha256"]
    assert training["val_loss"] == best["val_loss"]
    assert math.isclose(training["val_bpc"], best["val_loss"] / math.log(2))
    assert training["train_seconds"] == best["train_seconds"] > 0
    assert training["step"] == best["step"] and training["checkpoint"] == "best"
    assert training["exported_on"] and training["hardware"]
    assert card["config"] == run.read_config().to_dict()
    assert card["vocabulary"] == run.read_vocab().tokens


@pytest.mark.slow
def test_exported_step_reproduces_the_training_model_over_500_characters(trained_export):
    """The step model of the export and the stateful training model, same weights, 500 characters."""
    from charkeras.model.carried_state import get_states, set_states
    from charkeras.model.networks import build_training_model
    from charkeras.model.weights import transfer_weights
    from charkeras.train.run.checkpoints import load_checkpoint
    from charkeras.train.run.directory import RunDir

    run_path, out = trained_export
    run = RunDir(run_path)
    config, vocab = run.read_config(), run.read_vocab()
    ids = vocab.encode((TEXT * 2)[:500])
    # The checkpoint was written by a batch-4 model; copy its weights into a batch-1 one for this text.
    saved = build_training_model(config.model, config.data.batch_size)
    load_checkpoint(run.best_checkpoint(), saved)
    single = build_training_model(config.model, 1, len(ids))
    transfer_weights(saved, single, config.model)
    set_states(single, [np.zeros_like(s) for s in get_states(single)])
    expected = np.asarray(single(ids[None, :], training=False))[0]
    exported = step_logits(tf.saved_model.load(str(out / "1")), ids)
    assert np.abs(exported - expected).max() <= 1e-4


@pytest.mark.slow
def test_training_facts_describe_the_exported_checkpoint(trained_export):
    from charkeras.exporting.writer import training_facts
    from charkeras.train.run.directory import RunDir

    run = RunDir(trained_export[0])
    latest = run.latest_checkpoint()
    meta = json.loads((latest / "meta.json").read_text())
    facts = training_facts(run, latest)
    assert (facts["checkpoint"], facts["step"], facts["val_loss"]) == (latest.name, meta["step"], meta["val_loss"])


@pytest.mark.slow
def test_an_export_rebuilt_from_itself_keeps_its_weights_and_training_facts(trained_export, tmp_path):
    from charkeras.exporting.writer import export

    _, out = trained_export
    rebuilt = export(out, tmp_path / "rebuilt", quantize="int8")
    old, new = (json.loads((d / "card.json").read_text(encoding="utf-8")) for d in (out, rebuilt))
    assert new["training"] == old["training"] and new["config"] == old["config"]
    assert "model_int8.tflite" in new["tflite"] and "model_int8.tflite" not in old["tflite"]
    ids = [old["vocabulary"].index("R"), 5, 9, 12]
    np.testing.assert_array_equal(step_logits(tf.saved_model.load(str(rebuilt / "1")), ids),
                                  step_logits(tf.saved_model.load(str(out / "1")), ids))
    with pytest.raises(ExportError, match="--checkpoint"):
        export(out, tmp_path / "again", checkpoint="latest")


def test_rebuilding_an_export_whose_card_does_not_match_its_weights_fails_clearly(exported, tmp_path):
    from charkeras.exporting.writer import export

    broken = tmp_path / "broken"
    shutil.copytree(exported[0], broken)
    card = json.loads((broken / "card.json").read_text(encoding="utf-8"))
    card["config"]["model"]["units"] = card["units"] = 32  # consistent, so only the weights disagree
    (broken / "card.json").write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="does not match its card.json"):
        export(broken, tmp_path / "out")
    assert not (tmp_path / "out").exists()
