"""Hostile inputs give one `error:` line, exit code 2, no traceback, and leave nothing half-written
(issue 11, findings 6-8): unreadable texts, non-text codecs, unwritable or full destinations, corrupt
or foreign run and export files, out-of-range options. Each case here was a traceback, an "Aborted!",
a crash or a silent wrong result before."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

FIT_TINY = ("--units", "8", "--layers", "1", "--embedding-dim", "4", "--batch-size", "4", "--seq-len", "16",
            "--epochs", "1", "--checkpoint-every", "0", "--sample-every", "0", "--quiet")


def cli(*args):
    from charkeras_cli.main import main

    return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_error_line(result, *fragments):
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("hello world, a small corpus.\n" * 40, encoding="utf-8")
    return path


# ---- reading the training text ----------------------------------------------------------------------
def test_an_unreadable_corpus_is_one_error_line_and_writes_nothing(corpus, tmp_path, monkeypatch):
    from charkeras.text import reading

    real_open = open

    def denied(path, *args, **kwargs):  # tests run as root, which reads any file: fake the permission
        if str(path) == str(corpus):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(reading, "open", denied, raising=False)
    result = cli("fit", corpus, "--out", tmp_path / "run", *FIT_TINY)
    assert_one_error_line(result, f"cannot read {corpus}: Permission denied")
    assert not (tmp_path / "run").exists()


def test_proc_self_mem_and_a_fifo_are_refused(tmp_path):
    import os

    result = cli("fit", "/proc/self/mem", "--out", tmp_path / "run", *FIT_TINY)
    assert_one_error_line(result, "cannot read /proc/self/mem")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert_one_error_line(cli("fit", fifo, "--out", tmp_path / "run", *FIT_TINY), "not a regular file")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("codec", ["base64", "rot13", "zlib"])
def test_codecs_that_are_not_text_encodings_are_refused(corpus, tmp_path, codec):
    result = cli("fit", corpus, "--out", tmp_path / "run", "--encoding", codec, *FIT_TINY)
    assert_one_error_line(result, "not a text encoding")
    assert not (tmp_path / "run").exists()


def test_a_text_decoding_to_lone_surrogates_is_refused(tmp_path):
    from charkeras.errors import CorpusError
    from charkeras.text.id_cache import load_corpus

    path = tmp_path / "escaped.txt"
    path.write_text("abc \\ud800 def", encoding="ascii")
    with pytest.raises(CorpusError, match="lone surrogate"):
        load_corpus(path, encoding="unicode_escape", cache_dir=tmp_path / "cache")


@pytest.mark.slow
def test_a_corpus_path_that_is_not_utf8_trains_exports_and_reports(corpus, tmp_path):
    """Linux file names are bytes: one with \\xff reaches Python as the lone surrogate \\udcff. It is
    stored in run.json and card.json as the JSON escape and shown in pages, never a crash."""
    strange = tmp_path / "bad\udcffname.txt"
    strange.write_bytes(corpus.read_bytes())
    run, export = tmp_path / "run", tmp_path / "export"
    for args in (("fit", strange, "--out", run, *FIT_TINY), ("report", run), ("export", run, "--out", export),
                 ("info", export), ("fit", "--resume", run, "--epochs", "2", "--quiet")):
        result = cli(*args)
        assert result.exit_code == 0, (args, result.output)
    assert "bad\\udcffname.txt" in (export / "card.json").read_text(encoding="utf-8")
    assert json.loads((run / "run.json").read_text(encoding="utf-8"))["source"] == str(strange)


# ---- where things are written -------------------------------------------------------------------------
def test_out_and_cache_dir_inside_a_file_are_one_error_line(corpus, tmp_path):
    result = cli("fit", corpus, "--out", corpus / "run", *FIT_TINY)
    assert_one_error_line(result, "Not a directory")
    result = cli("fit", corpus, "--out", tmp_path / "run", "--cache-dir", corpus / "cache", *FIT_TINY)
    assert_one_error_line(result, "cannot write the corpus cache", "--cache-dir")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR,
                                  errno.EISDIR])
def test_environment_os_errors_become_one_line_naming_the_path(tmp_path, monkeypatch, code):
    from charkeras_cli import report_command

    def failing(run):
        raise OSError(code, __import__("os").strerror(code), str(tmp_path / "report.html"))

    monkeypatch.setattr(report_command, "write_report", failing)
    result = cli("report", tmp_path)
    assert_one_error_line(result, f"{tmp_path / 'report.html'}: ")


def test_other_os_errors_keep_their_traceback(tmp_path, monkeypatch):
    from charkeras_cli import report_command

    def buggy(run):
        raise OSError(errno.EBADF, "Bad file descriptor")  # a bug, not the user's disk

    monkeypatch.setattr(report_command, "write_report", buggy)
    result = cli("report", tmp_path)
    assert result.exit_code == 1 and isinstance(result.exception, OSError)


def test_temporary_file_names_are_reported_as_their_directory():
    from charkeras_cli.os_errors import user_message

    message = user_message(OSError(errno.EROFS, "Read-only file system", "/data/site/.viz.html.x1y2.tmp"))
    assert message.startswith("/data/site: Read-only file system")


@pytest.mark.parametrize("seed", ["-1", "99999999999", "3000000000", "2147483648"])
def test_fit_seed_out_of_range_is_refused_before_anything_is_written(corpus, tmp_path, seed):
    result = cli("fit", corpus, "--out", tmp_path / "run", "--seed", seed, *FIT_TINY)
    assert_one_error_line(result, "--seed must be in [0, 2147483647]")
    assert not (tmp_path / "run").exists()


def test_a_model_too_big_for_memory_is_refused_before_anything_is_written(corpus, tmp_path):
    # the largest model config.py allows (32 x 8192) needs about 100 GB to train
    result = cli("fit", corpus, "--out", tmp_path / "run", *FIT_TINY, "--units", "8192", "--layers", "32")
    assert_one_error_line(result, "GB of memory to train", "--units 8192")
    assert not (tmp_path / "run").exists()


def test_the_memory_estimate_counts_the_parameters_of_the_model():
    from charkeras.config import CharConfig
    from charkeras.model.networks import build_training_model, count_params
    from charkeras.train.memory_check import parameter_count

    config = CharConfig().replace(model={"vocab_size": 30, "units": 12, "layers": 3, "embedding_dim": 5})
    assert parameter_count(config) == count_params(build_training_model(config.model, 2, 4))


def test_report_on_a_binary_log_is_one_error_line(tiny_viz_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_viz_run, run)
    (run / "log.csv").write_bytes(bytes(range(256)) * 8)
    assert_one_error_line(cli("report", run), "log.csv is not a training log")


# ---- corrupt run files ----------------------------------------------------------------------------
def _corrupt(run, name, content):
    path = run / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


@pytest.mark.parametrize("command", ["info", "generate", "export"])
@pytest.mark.parametrize("name, content, message", [
    ("config.json", "{ not json", "config.json is unreadable"),
    ("config.json", b"", "config.json is unreadable: the file is empty"),
    ("config.json", {"model": {"units": "512"}}, "model.units must be an integer"),
    ("config.json", [1, 2], "must be a JSON object"),
    ("config.json", {"train": {"seed": -5}}, "config.json: --seed must be in [0, 2147483647]"),
    ("run.json", b"\xff\xfe garbage", "run.json is unreadable"),
    ("run.json", {"source": "x", "sha256": "y", "format_version": 99}, "upgrade charkeras"),
    ("run.json", {}, "run.json is missing source, sha256"),
    ("run.json", {"source": "x", "sha256": "y"}, "run.json is missing format_version"),
    ("checkpoints/best/meta.json", {}, "meta.json is missing step"),
    ("checkpoints/best/meta.json", {"step": "ten", "val_loss": None, "train_seconds": 1, "model_variables": [],
                                    "optimizer_variables": []}, "step must be an integer"),
], ids=["config-bad-json", "config-empty", "config-types", "config-list", "config-seed", "run-binary",
        "run-newer", "run-empty", "run-unversioned", "meta-empty", "meta-types"])
def test_corrupt_run_files_are_one_error_line(tiny_viz_run, tmp_path, command, name, content, message):
    run = tmp_path / "run"
    shutil.copytree(tiny_viz_run, run)
    _corrupt(run, name, content)
    args = {"info": ("info", run), "generate": ("generate", run, "--n", "3", "--seed", "1"),
            "export": ("export", run, "--out", tmp_path / "export")}[command]
    if command == "generate" and name == "run.json":
        args = ("info", run)  # generate does not read run.json
    assert_one_error_line(cli(*args), message)
    assert not (tmp_path / "export").exists()


@pytest.mark.parametrize("damage", ["zero-bytes", "truncated", "not-a-zip"])
def test_a_damaged_checkpoint_is_one_error_line_not_aborted(tiny_viz_run, tmp_path, damage):
    run = tmp_path / "run"
    shutil.copytree(tiny_viz_run, run)
    variables = run / "checkpoints" / "best" / "variables.npz"
    {"zero-bytes": lambda p: p.write_bytes(b""), "truncated": _truncate,
     "not-a-zip": lambda p: p.write_bytes(b"PK\x03\x04" + b"\x00" * 100)}[damage](variables)
    result = cli("generate", run, "--n", "3", "--seed", "1")
    assert_one_error_line(result, "variables.npz is unreadable")
    result = cli("export", run, "--out", tmp_path / "export")
    assert_one_error_line(result, "variables.npz is unreadable")
    assert not (tmp_path / "export").exists() and not list(tmp_path.glob(".export*"))


def test_a_vocabulary_that_does_not_match_the_weights_is_refused(tiny_viz_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_viz_run, run)
    tokens = json.loads((run / "vocab.json").read_text(encoding="utf-8"))["tokens"]
    _corrupt(run, "vocab.json", {"tokens": tokens[:-5]})  # five characters removed
    for args in (("export", run, "--out", tmp_path / "export"), ("generate", run, "--n", "3")):
        assert_one_error_line(cli(*args), "vocab.json has", "does not belong to these weights")
    assert not (tmp_path / "export").exists()
    _corrupt(run, "vocab.json", {"tokens": ["", "[UNK]", "ab"]})
    assert_one_error_line(cli("generate", run, "--n", "3"), "single characters")


# ---- corrupt exports --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    from model_factory import export_random_model

    out = tmp_path_factory.mktemp("export") / "model"
    export_random_model(out)
    return out


def _edited_card(export_dir, tmp_path, edit):
    bad = tmp_path / "bad"
    shutil.copytree(export_dir, bad)
    card = json.loads((bad / "card.json").read_text(encoding="utf-8"))
    edit(card)
    (bad / "card.json").write_text(json.dumps(card), encoding="utf-8")
    return bad


@pytest.mark.parametrize("edit, message", [
    (lambda c: c.update(format_version=99), "upgrade charkeras"),
    (lambda c: c.pop("format_version"), "is missing format_version"),
    (lambda c: c.update(layers="2"), "layers must be an integer"),
    (lambda c: c.update(units=-4), "units must be an integer >= 1"),
    (lambda c: c.update(vocabulary=c["vocabulary"][:-5]), "vocab_size is"),
    (lambda c: c.update(vocabulary=c["vocabulary"][:-5], vocab_size=len(c["vocabulary"]) - 5),
     "config.model.vocab_size"),
    (lambda c: c.update(training={"val_loss": "low"}), "val_loss must be"),
    (lambda c: c["tflite"]["model.tflite"].update(bytes="many"), "bytes must be an integer"),
    (lambda c: c["config"]["model"].update(dropout="x"), "dropout must be a number"),
    (lambda c: c.update(start_id=10**6), "start_id"),
], ids=["newer-format", "unversioned", "layers-type", "units-range", "vocab-size", "vocab-config", "training-type",
        "tflite-bytes", "config-type", "start-id"])
@pytest.mark.parametrize("command", ["info", "generate-tflite", "generate-savedmodel"])
def test_invalid_cards_are_one_error_line(export_dir, tmp_path, edit, message, command):
    bad = _edited_card(export_dir, tmp_path, edit)
    args = {"info": ("info", bad),
            "generate-tflite": ("generate", bad, "--n", "3", "--runtime", "tflite"),
            "generate-savedmodel": ("generate", bad, "--n", "3", "--runtime", "savedmodel")}[command]
    assert_one_error_line(cli(*args), message)


def test_a_consistently_edited_vocabulary_is_caught_by_the_weights(export_dir, tmp_path):
    """card.json edited everywhere (vocabulary, vocab_size, config): the model's own shapes disagree."""
    def drop_five(card):
        card["vocabulary"] = card["vocabulary"][:-5]
        card["vocab_size"] = card["config"]["model"]["vocab_size"] = len(card["vocabulary"])

    bad = _edited_card(export_dir, tmp_path, drop_five)
    for runtime in ("tflite", "savedmodel"):
        result = cli("generate", bad, "--n", "3", "--runtime", runtime)
        assert_one_error_line(result, "does not belong to these weights")
    assert_one_error_line(cli("export", bad, "--out", tmp_path / "again"), "does not match its card.json")


def test_the_shipped_export_passes_its_schema():
    from conftest import REPO

    from charkeras.artifact.card import read_card

    card = read_card(REPO / "saved_models" / "shakespeare")
    assert card["format_version"] == 1 and card["vocab_size"] == len(card["vocabulary"])


# ---- generation options -----------------------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    (("--n", "3000000000"), "--n must be <= 2147483647"),
    (("--n", "99999999999"), "--n must be <= 2147483647"),
    (("--num-samples", "3000000000"), "--num-samples must be <= 2147483647"),
    (("--top-k", "3000000000"), "--top-k must be <= 2147483647"),
    (("--threads", "100000"), "--threads must be in [0, "),
    (("--seed", "99999999999"), "--seed must fit in 32 bits"),
], ids=["n-int32", "n-huge", "num-samples", "top-k", "threads", "seed"])
def test_generate_options_out_of_range(export_dir, args, message):
    for runtime in ("tflite", "savedmodel"):
        assert_one_error_line(cli("generate", export_dir, "--runtime", runtime, *args), message)


def test_generation_is_bounded_by_memory(export_dir):
    from charkeras.errors import ConfigError
    from charkeras.runtime.limits import check_generation_memory, generation_bytes
    from charkeras.runtime.loading import load

    with pytest.raises(ConfigError, match="needs about .* GB of memory"):
        check_generation_memory(500, 100_000, 2, 512, 67, available=4 * 2**30)
    check_generation_memory(500, 100, 2, 512, 67, available=4 * 2**30)
    assert generation_bytes(2_000_000_000, 1, 2, 16, 60) > 100e9
    model = load(export_dir, runtime="tflite")
    with pytest.raises(ConfigError, match="memory"):
        model.generate(2_000_000_000, seed=1)  # would need ~190 GB: refused before any work


def test_litert_noise_blocks_do_not_change_the_text(export_dir, monkeypatch):
    """Big batches draw their sampling noise in smaller blocks (memory); the text must not change."""
    from charkeras.runtime.loading import load
    from charkeras.sampling import numpy_sampler

    model = load(export_dir, runtime="tflite")
    reference = model.generate(70, seed=5, num_samples=3)
    monkeypatch.setattr(numpy_sampler, "_NOISE_BLOCK_VALUES", 3 * len(model.vocab) * 5)  # 5 characters a block
    assert model.generate(70, seed=5, num_samples=3) == reference


@pytest.mark.parametrize("runtime", ["tflite", "savedmodel"])
def test_a_prime_that_is_not_utf8_is_one_error_line(export_dir, runtime):
    # argv bytes that are not UTF-8 reach Python as lone surrogates (surrogateescape): b"\xff" -> "\udcff"
    result = cli("generate", export_dir, "--runtime", runtime, "--n", "3", "--prime", "ab\udcff")
    assert_one_error_line(result, "--prime is not valid UTF-8 (byte 0xff at character 2)")


def test_library_calls_refuse_lone_surrogates(export_dir):
    from charkeras.errors import CorpusError
    from charkeras.runtime.loading import load

    for runtime in ("tflite", "savedmodel"):
        model = load(export_dir, runtime=runtime)
        with pytest.raises(CorpusError, match="--prime is not valid UTF-8"):
            model.generate(3, prime="\udce9")
        with pytest.raises(CorpusError, match="lone surrogate"):
            model.score("ab\ud800c")


def test_threads_range_applies_to_the_library_too(export_dir):
    from charkeras.errors import ConfigError
    from charkeras.runtime.limits import max_threads
    from charkeras.runtime.loading import load

    with pytest.raises(ConfigError, match="--threads must be in"):
        load(export_dir, runtime="tflite", lite_threads=max_threads() + 1)
    assert load(export_dir, runtime="tflite", lite_threads=max_threads()).generate(3, seed=1)


def test_rejected_generate_options_never_load_the_model(export_dir, monkeypatch):
    from charkeras.runtime import loading

    monkeypatch.setattr(loading, "load", lambda *a, **k: pytest.fail("loaded"))
    assert_one_error_line(cli("generate", export_dir, "--n", "3000000000"), "--n")
    assert_one_error_line(cli("generate", export_dir, "--prime", "\udcff"), "--prime")


def test_a_damaged_tflite_is_one_error_line_with_or_without_its_digest(export_dir, tmp_path):
    def forget_digests(card):
        for facts in card["tflite"].values():
            facts.pop("sha256")

    with_digest = _edited_card(export_dir, tmp_path / "a", lambda card: None)
    without = _edited_card(export_dir, tmp_path / "b", forget_digests)  # a card from before the digest
    for bad, message in ((with_digest, "sha256 differs"), (without, "cannot load")):
        (bad / "model.tflite").write_bytes(b"garbage")
        assert_one_error_line(cli("generate", bad, "--n", "3", "--runtime", "tflite"), message)


def test_the_real_cli_with_its_streams_on_files_prints_escapes(tmp_path):
    """Outside click's test runner: stdout and stderr on files (seekable, then fd 2 becomes a pipe for the
    TensorFlow filter); a name with a byte that is not UTF-8 is printed as an escape, exit 2, no crash."""
    import os
    import subprocess
    import sys

    missing = os.fsencode(tmp_path) + b"/nothere\xff.txt"
    with open(tmp_path / "out.txt", "wb") as out, open(tmp_path / "err.txt", "wb") as err:
        done = subprocess.run([sys.executable, "-m", "charkeras_cli.main", "fit", missing, "--out",
                               os.fsencode(tmp_path) + b"/run"], stdout=out, stderr=err, timeout=120, check=False)
    stderr = (tmp_path / "err.txt").read_text(encoding="utf-8")
    assert done.returncode == 2, stderr
    assert stderr.startswith("error: corpus not found: ") and "nothere\\udcff.txt" in stderr


# ---- issue 21: click's own validation, numbers too large, options that size memory or time ---------
def run_cli(*args, timeout=120):
    """The real `charkeras` in a subprocess: (exit code, stderr)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "charkeras_cli.main", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, check=False)
    return done.returncode, done.stderr


def assert_one_error_line_from(outcome, *fragments):
    code, stderr = outcome
    assert code == 2 and stderr.startswith("error: ") and stderr.count("\n") == 1, (code, stderr)
    for fragment in fragments:
        assert fragment in stderr, stderr


@pytest.mark.parametrize("args, message", [
    (("fit", "--cpu-devices", "-1"), "error: --cpu-devices: -1 is not in the range"),
    (("fit", "--lstm-layout", "bogus"), "error: --lstm-layout: 'bogus' is not one of 'auto', 'feature', 'row'"),
    (("fit", "--epochs", "many"), "error: --epochs: 'many' is not a valid integer"),
    (("generate", "runs/x", "--prime-file", "{dir}"), "error: --prime-file: "),
    (("generate", "runs/x", "--novel-against", "{dir}"), "error: --novel-against: "),
    (("export", "runs/x", "--quantize", "bogus"), "error: --quantize: 'bogus'"),
    (("visualize", "runs/x", "--text", "t.txt", "--out", "{dir}"), "error: --out: "),
    (("fit", "--bogus"), "error: No such option '--bogus'"),
    (("bogus",), "error: No such command 'bogus'"),
    (("generate",), "error: Missing argument 'MODEL'"),
])
def test_clicks_own_validation_is_one_error_line(tmp_path, args, message):
    outcome = run_cli(*(a.format(dir=tmp_path) for a in args))
    assert_one_error_line_from(outcome, message)
    assert "Usage:" not in outcome[1]


def test_an_out_directory_that_cannot_be_created_is_one_error_line(corpus):
    assert_one_error_line_from(run_cli("fit", corpus, "--out", "/proc/x/run", *FIT_TINY), "/proc/x")


NINES = "9" * 400


@pytest.mark.parametrize("option, value, message", [
    ("--epochs", "100000000000000000000", "--epochs must be in [1, 2147483647]"),
    # each epoch in range, but epochs x batches beyond the steps a run can count
    ("--epochs", "2147483647", "steps, more than the 2,147,483,647 a run can take"),
    ("--warmup-steps", "100000000000000000000", "--warmup-steps must be <= 2147483647"),
    ("--max-steps", "100000000000000000000", "--max-steps must be <= 2147483647"),
    ("--time-budget", NINES + "s", "--time-budget must be a finite number"),
    ("--time-budget", "999999999999999d", "--time-budget must be at most a year"),
    ("--lr", "inf", "--lr must be a finite number"),
    ("--clipnorm", "inf", "--clipnorm must be a finite number"),
    ("--clipnorm", "nan", "--clipnorm must be a finite number"),
    ("--sample-len", "2147483647", "--sample-len must be in [1, 10000]"),
    ("--units", str(10**12), "--units must be in [1, 8192]"),
])
def test_numbers_too_large_are_refused_before_the_run_directory_exists(corpus, tmp_path, option, value,
                                                                         message):
    outcome = run_cli("fit", corpus, "--out", tmp_path / "run", *FIT_TINY, option, value)
    assert_one_error_line_from(outcome, message)
    assert not (tmp_path / "run").exists()


def test_resume_refuses_an_option_it_cannot_change_naming_the_one_list(tmp_path):
    from charkeras.config import resumable_text

    outcome = run_cli("fit", "--resume", tmp_path / "run", "--units", "8")
    assert_one_error_line_from(outcome, f"only {resumable_text()} may change (got --units)")


@pytest.fixture(scope="module")
def long_text(tmp_path_factory):
    path = tmp_path_factory.mktemp("long") / "long.txt"
    path.write_text("To be, or not to be, that is the question.\n" * 120_000, encoding="utf-8")  # 5.2 M
    return path


SHIPPED = Path(__file__).resolve().parents[1] / "saved_models" / "shakespeare"  # 2 x 512


@pytest.mark.parametrize("args, message", [
    (("generate", SHIPPED, "--beam", "100000000"), "--beam 100000000 needs about"),
    (("evaluate", SHIPPED, "--text", "{text}", "--runtime", "tflite", "--streams", "5000000", "--warmup", "0"),
     "--streams 5000000 needs about"),
    (("cells", SHIPPED, "--text", "{text}", "--runtime", "tflite", "--max-chars", "5000000", "--out",
      "{out}"), "--max-chars 5000000 needs about"),
])
def test_options_that_size_memory_are_bounded_by_the_memory_available(long_text, tmp_path, args, message):
    """Each needs more than 100 GB with the shipped model: refused up front, the error naming the option
    and the memory, instead of running out of memory with a traceback."""
    outcome = run_cli(*(str(a).format(text=long_text, out=tmp_path / "cells.html") for a in args))
    assert_one_error_line_from(outcome, message, "GB available")
    assert not (tmp_path / "cells.html").exists()


def test_a_prime_longer_than_the_stated_maximum_is_refused(tmp_path):
    from charkeras.runtime.limits import PRIME_MAX_CHARS

    prime = tmp_path / "prime.txt"
    prime.write_text("x" * (PRIME_MAX_CHARS + 1), encoding="utf-8")
    outcome = run_cli("generate", SHIPPED, "--prime-file", prime, "--runtime", "tflite")
    assert_one_error_line_from(outcome, f"the prime must be at most {PRIME_MAX_CHARS:,} characters")


def test_evaluate_warns_in_one_line_not_a_python_warning(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("ROMEO: Жук\n" * 50, encoding="utf-8")
    code, stderr = run_cli("evaluate", SHIPPED, "--text", text, "--runtime", "tflite")
    assert code == 0, stderr
    assert "UserWarning" not in stderr and "warnings.warn" not in stderr, stderr
    assert "warning: characters not in the model's vocabulary are read as unknown" in stderr, stderr
