"""charkeras/runtime (SavedModel, LiteRT, training run) and the generate / export / info commands."""

import json
import math
import shutil
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from click.testing import CliRunner
from model_factory import export_random_model

from charkeras.errors import ConfigError, ModelLoadError
from charkeras.runtime.loading import load

pytest.importorskip("tensorflow")
litert = pytest.importorskip("ai_edge_litert.interpreter")


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "tiny"
    export_random_model(out)
    return out


@pytest.fixture(scope="module")
def sm(export_dir):
    return load(export_dir)


@pytest.fixture(scope="module")
def lite(export_dir):
    return load(export_dir, runtime="tflite")


def cli(*args):
    from charkeras_cli.main import main

    return CliRunner().invoke(main, list(args))


# ---- runtime API ------------------------------------------------------------------------------------
def test_loaded_model_has_the_documented_interface(sm, lite, export_dir):
    for model in (sm, lite):
        assert (model.layers, model.units, len(model.vocab)) == (2, 16, model.card["vocab_size"])
        assert model.zero_state(3).shape == (3, 4, 16) and model.zero_state(3).dtype == np.float32
        logits, state = model.step(np.array([2, 3, 4], np.int32), model.zero_state(3))
        assert logits.shape == (3, len(model.vocab)) and state.shape == (3, 4, 16)
        text = model.generate(25, prime="ROMEO:", seed=1)
        assert isinstance(text, str) and len(text) == 25
    assert load(export_dir / "1").card == sm.card  # the version directory works too


def test_litert_and_savedmodel_agree_on_steps_greedy_text_and_scores(sm, lite):
    state_a = state_b = sm.zero_state(1)
    for i in sm.vocab.encode("First Citizen:\nBefore we proceed any further"):
        logits_a, state_a = sm.step(np.array([i], np.int32), state_a)
        logits_b, state_b = lite.step(np.array([i], np.int32), state_b)
        assert np.abs(logits_a - logits_b).max() <= 1e-4
    assert lite.generate(200, prime="ROMEO:", temperature=0) == sm.generate(200, prime="ROMEO:", temperature=0)
    nll_a, count_a = sm.score("To be, or not to be")
    nll_b, count_b = lite.score("To be, or not to be")
    assert count_a == count_b == 18 and math.isclose(nll_a, nll_b, rel_tol=1e-5)


def test_a_seed_gives_the_same_text_in_litert_and_the_saved_model(sm, lite):
    for seed, temperature, top_k in ((1, 1.0, 0), (2, 0.6, 0), (3, 1.3, 8), (-4, 0.9, 3)):
        kwargs = {"prime": "ROMEO:", "temperature": temperature, "top_k": top_k, "seed": seed}
        assert lite.generate(150, **kwargs) == sm.generate(150, **kwargs), kwargs
    assert lite.generate(40, seed=6, num_samples=5) == sm.generate(40, seed=6, num_samples=5)


def test_same_seed_same_text_and_seeds_differ(sm, lite):
    for model in (sm, lite):
        a = model.generate(80, prime="ROMEO:", temperature=1.0, seed=11)
        assert model.generate(80, prime="ROMEO:", temperature=1.0, seed=11) == a
        assert model.generate(80, prime="ROMEO:", temperature=1.0, seed=12) != a


def test_top_k_one_is_greedy_in_every_runtime(sm, lite):
    for model in (sm, lite):
        greedy = model.generate(60, prime="ROMEO", temperature=0)
        assert model.generate(60, prime="ROMEO", temperature=2.0, top_k=1, seed=4) == greedy
        assert model.generate(60, prime="ROMEO", temperature=2.0, top_k=1, seed=4, num_samples=3) == [greedy] * 3


def test_num_samples_generates_a_batch_of_different_samples(sm, lite):
    for model in (sm, lite):
        texts = model.generate(30, prime="A", temperature=1.0, seed=3, num_samples=64)
        assert isinstance(texts, list) and len(texts) == 64
        assert all(len(t) == 30 for t in texts)
        assert len(set(texts)) > 32
        assert model.generate(30, prime="A", temperature=1.0, seed=3, num_samples=64) == texts


def test_empty_prime_starts_after_a_newline(sm, lite):
    for model in (sm, lite):
        assert model.generate(40, prime="", seed=5) == model.generate(40, prime="\n", seed=5)
        assert model.generate(10, num_samples=2, seed=5) == model.generate(10, prime="\n", num_samples=2, seed=5)


def test_unknown_prime_characters_warn_once_and_generate(export_dir, capsys):
    model = load(export_dir)  # a fresh model: the warning is once per model and character
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a `warning:` line (errors.warn), never a Python warning
        assert len(model.generate(10, prime="Жук")) == 10
        assert capsys.readouterr().err.startswith("warning: characters not in the model's vocabulary")
        model.generate(10, prime="Жук")
        assert capsys.readouterr().err == ""


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "--n"), ({"n": 5, "temperature": -0.1}, "--temperature"), ({"n": 5, "top_k": -1}, "--top-k"),
    ({"n": 5, "num_samples": 0}, "--num-samples"), ({"n": 5, "seed": 2**40}, "--seed"),
])
def test_bad_sampling_options_are_rejected(sm, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        sm.generate(**kwargs)


def test_load_rejects_wrong_runtimes_and_unknown_directories(export_dir, tmp_path):
    with pytest.raises(ModelLoadError, match="runtime 'run' is for training runs"):
        load(export_dir, runtime="run")
    for removed in ("onnx", "keras"):  # "keras", the run runtime's pre-release name, is gone
        with pytest.raises(ConfigError, match="--runtime"):
            load(export_dir, runtime=removed)
    with pytest.raises(ModelLoadError, match="neither"):
        load(tmp_path)
    with pytest.raises(ModelLoadError, match="not found"):
        load(export_dir, runtime="tflite", precision="int8")  # not exported with --quantize int8


# ---- a training run ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run_and_export(tmp_path_factory):
    from model_factory import train_tiny_run

    root = tmp_path_factory.mktemp("run")
    train_tiny_run(root)
    result = cli("export", str(root / "run"), "--out", str(root / "export"))
    assert result.exit_code == 0, result.output
    return root / "run", root / "export"


@pytest.mark.slow
def test_a_training_run_generates_what_its_export_generates(run_and_export):
    run_path, export_path = run_and_export
    keras_model, exported = load(run_path), load(export_path)
    assert keras_model.runtime == "run" and keras_model.checkpoint.name == "best"
    assert keras_model.generate(120, prime="ROMEO:", temperature=0.8, seed=9) == exported.generate(
        120, prime="ROMEO:", temperature=0.8, seed=9)
    assert keras_model.generate(20, seed=2, num_samples=4) == exported.generate(20, seed=2, num_samples=4)
    nll_a, count_a = keras_model.score("ROMEO: speak")
    nll_b, count_b = exported.score("ROMEO: speak")
    assert count_a == count_b and math.isclose(nll_a, nll_b, rel_tol=1e-5)
    with pytest.raises(ModelLoadError, match="needs an export"):
        load(run_path, runtime="tflite")


@pytest.mark.slow
def test_cli_export_and_generate_from_run_and_export(run_and_export):
    run_path, export_path = run_and_export
    out_run = cli("generate", str(run_path), "--n", "50", "--prime", "ROMEO:", "--seed", "7")
    out_export = cli("generate", str(export_path), "--n", "50", "--prime", "ROMEO:", "--seed", "7")
    assert out_run.exit_code == out_export.exit_code == 0, out_run.output + out_export.output
    assert out_run.stdout == out_export.stdout and out_run.stdout.startswith("ROMEO:")
    again = cli("export", str(run_path), "--out", str(export_path))  # exporting again adds version 2
    assert again.exit_code == 0, again.output
    assert sorted(p.name for p in export_path.iterdir() if p.name.isdigit()) == ["1", "2"]
    info = cli("info", str(export_path))
    assert info.exit_code == 0
    card = json.loads((export_path / "card.json").read_text(encoding="utf-8"))
    assert f"{card['parameters']:,}" in info.stdout
    assert card["training"]["corpus_sha256"] in info.stdout
    run_info = cli("info", str(run_path))
    assert run_info.exit_code == 0 and "best checkpoint" in run_info.stdout


# ---- CLI ----------------------------------------------------------------------------------------------
def test_cli_generate_prints_prime_and_continuation_reproducibly(export_dir, sm):
    args = ("generate", str(export_dir), "--n", "40", "--prime", "ROMEO:", "--seed", "3",
            "--top-k", "10", "--temperature", "0.5")
    first, second = cli(*args), cli(*args)
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout
    assert first.stdout == "ROMEO:" + sm.generate(40, prime="ROMEO:", seed=3, top_k=10, temperature=0.5) + "\n"
    many = cli("generate", str(export_dir), "--n", "10", "--num-samples", "3", "--seed", "1")
    assert many.exit_code == 0 and many.stdout.count("----- sample ") == 3
    unseeded = cli("generate", str(export_dir), "--n", "10")
    assert unseeded.exit_code == 0 and "pass --seed" in unseeded.stderr


@pytest.mark.parametrize("runtime", [["--runtime", "tflite"], []], ids=["tflite", "auto"])
def test_cli_generate_tflite_never_imports_tensorflow(export_dir, lite, runtime, tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from charkeras_cli.main import main
        try:
            main(["generate", {str(export_dir)!r}, *{runtime!r}, "--n", "300",
                  "--seed", "2", "--temperature", "0"])
        except SystemExit as exit:
            assert not exit.code, exit.code
        print("TF_IMPORTED" if "tensorflow" in sys.modules else "NO_TF")
    """)
    # From a neutral directory: the installed tool, not the checkout found through the working directory
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.rstrip("\n").split("\n")
    assert lines[-1] == "NO_TF"
    assert "\n".join(lines[:-1]) == lite.generate(300, temperature=0)


def test_help_does_not_import_tensorflow(tmp_path):
    script = ("import sys\nfrom charkeras_cli.main import main\n"
              "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
              "print('TF_IMPORTED' if 'tensorflow' in sys.modules else 'NO_TF')")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                            timeout=60, check=False)
    assert result.stdout.strip().endswith("NO_TF")
    for command in ("generate", "export", "info"):
        assert command in result.stdout


def test_cli_info_describes_an_export(export_dir, sm):
    result = cli("info", str(export_dir))
    assert result.exit_code == 0
    assert f"{sm.card['parameters']:,}" in result.stdout and "model_fp16.tflite" in result.stdout
    assert json.loads(cli("info", str(export_dir), "--json").stdout)["card"] == sm.card


def _corrupt_card(export_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(export_dir, bad)
    (bad / "card.json").write_text("{ not json")
    return bad


def _corrupt_saved_model(export_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(export_dir, bad)
    (bad / "1" / "saved_model.pb").write_bytes(b"garbage")
    return bad


def _corrupt_tflite(export_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(export_dir, bad)
    (bad / "model.tflite").write_bytes(b"garbage")
    return bad


def _missing_version_dir(export_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(export_dir, bad)
    shutil.rmtree(bad / "1")
    return bad


@pytest.mark.parametrize("make_path, extra, message", [
    (lambda e, t: t / "nowhere", [], "model not found"),
    (lambda e, t: t, [], "neither a charkeras export"),
    (_corrupt_card, [], "card.json is unreadable"),
    (_corrupt_saved_model, ["--runtime", "savedmodel"], "cannot load the SavedModel"),
    (_missing_version_dir, ["--runtime", "savedmodel"], "no SavedModel version directory"),
    (_corrupt_tflite, [], "is not the file card.json describes"),  # its sha256; "cannot load" for old cards
    (lambda e, t: e, ["--n", "0"], "--n must be"),
    (lambda e, t: e, ["--temperature", "-1"], "--temperature must be >= 0"),
    (lambda e, t: e, ["--top-k", "-1"], "--top-k must be >= 0"),
    (lambda e, t: e, ["--num-samples", "0"], "--num-samples must be >= 1"),
    (lambda e, t: e, ["--threads", "-1"], "--threads must be >= 0"),
], ids=["missing", "neither", "corrupt-card", "corrupt-savedmodel", "no-version", "corrupt-tflite", "n", "temperature", "top-k",
        "num-samples", "threads"])
def test_cli_generate_bad_input_is_one_line_exit_2(export_dir, tmp_path, make_path, extra, message):
    result = cli("generate", str(make_path(export_dir, tmp_path)), *extra)
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert message in result.stderr


def test_cli_tflite_without_litert_says_how_to_install(export_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    result = cli("generate", str(export_dir), "--runtime", "tflite", "--n", "5")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "pip install ai-edge-litert" in result.stderr


def test_cli_auto_runtime_without_litert_uses_the_saved_model(export_dir, sm, monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    result = cli("generate", str(export_dir), "--n", "30", "--seed", "4")
    assert result.exit_code == 0, result.output
    assert result.stdout == sm.generate(30, seed=4) + "\n"
    fp16 = cli("generate", str(export_dir), "--n", "5", "--precision", "fp16")
    assert fp16.exit_code == 2 and "pip install ai-edge-litert" in fp16.stderr  # a .tflite precision needs LiteRT


def test_cli_export_and_info_bad_input(tmp_path):
    for args, message in ((["export", str(tmp_path / "nowhere")], "model not found"),
                          (["export", str(tmp_path)], "neither"),
                          (["info", str(tmp_path)], "neither")):
        result = cli(*args)
        assert result.exit_code == 2 and message in result.stderr and result.stderr.count("\n") == 1
