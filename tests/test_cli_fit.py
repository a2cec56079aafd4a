"""`charkeras fit` through click: help, bad input as one-line errors with exit code 2, a tiny run."""

import subprocess
import sys

import pytest
from charkeras_cli.main import main
from click.testing import CliRunner


def _invoke(*args):
    return CliRunner().invoke(main, list(map(str, args)))


def _one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert "Traceback" not in result.output
    assert any(all(f in line for f in fragments) for line in lines), result.output
    return lines


def test_help_documents_every_option_with_defaults():
    result = _invoke("fit", "--help")
    assert result.exit_code == 0
    for option in ("--layers", "--units", "--dropout", "--batch-size", "--seq-len", "--epochs", "--val-frac",
                   "--resume", "--lr-schedule", "--checkpoint-every", "--sample-every", "--encoding"):
        assert option in result.output
    assert "(by corpus size)" in " ".join(result.output.split()) and "[default: 0.1]" in result.output


def test_help_does_not_import_tensorflow():
    code = "import sys; from charkeras_cli.main import main; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_file(tmp_path):
    _one_line_error(_invoke("fit", tmp_path / "nope.txt", "--out", tmp_path / "r"), "corpus not found")


def test_empty_file(tmp_path):
    (tmp_path / "e.txt").write_text("")
    _one_line_error(_invoke("fit", tmp_path / "e.txt", "--out", tmp_path / "r"), "is empty")
    assert not (tmp_path / "r").exists()


def test_non_utf8_file_suggests_encoding(tmp_path):
    (tmp_path / "l.txt").write_bytes("caf\xe9\n".encode("latin-1") * 10)
    _one_line_error(_invoke("fit", tmp_path / "l.txt", "--out", tmp_path / "r"), "not valid utf-8", "--encoding")


def test_corpus_shorter_than_one_batch(shakespeare_slice, tmp_path):
    _one_line_error(_invoke("fit", shakespeare_slice, "--out", tmp_path / "r", "--batch-size", "64", "--seq-len",
                            "100"), "shorter than one batch", "largest workable")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("option, value, flag", [
    ("--units", "-4", "--units"),
    ("--layers", "0", "--layers"),
    ("--batch-size", "-1", "--batch-size"),
    ("--seq-len", "0", "--seq-len"),
    ("--dropout", "1.0", "--dropout"),
    ("--val-frac", "0", "--val-frac"),
    ("--val-frac", "0.7", "--val-frac"),
    ("--epochs", "0", "--epochs"),
])
def test_nonsensical_options(shakespeare_slice, tmp_path, option, value, flag):
    _one_line_error(_invoke("fit", shakespeare_slice, "--out", tmp_path / "r", option, value), flag)
    assert not (tmp_path / "r").exists()


def test_output_directory_with_another_run(shakespeare_slice, tmp_path):
    from charkeras.train.run.directory import RunDir

    RunDir(tmp_path / "r").path.mkdir()
    RunDir(tmp_path / "r").write_marker()  # a charkeras run (marked), whatever its files
    (tmp_path / "r" / "config.json").write_text("{}")
    _one_line_error(_invoke("fit", shakespeare_slice, "--out", tmp_path / "r"), "--resume", "--force")


def test_resume_of_a_directory_that_is_no_run(tmp_path):
    _one_line_error(_invoke("fit", "--resume", tmp_path), "is not a charkeras run")


def test_resume_refuses_changed_options(tmp_path):
    _one_line_error(_invoke("fit", "--resume", tmp_path, "--units", "8"), "only --epochs", "--lr", "--units")


@pytest.mark.slow
def test_tiny_run_then_resume(shakespeare_slice, tmp_path):
    args = ["fit", shakespeare_slice, "--out", tmp_path / "r", "--units", "8", "--layers", "1",
            "--embedding-dim", "4", "--batch-size", "4", "--seq-len", "16", "--val-frac", "0.2", "--epochs", "1",
            "--sample-every", "0", "--quiet"]
    first = _invoke(*args)
    assert first.exit_code == 0, first.output
    assert (tmp_path / "r" / "checkpoints" / "ckpt-000000074").is_dir()
    again = _invoke("fit", "--resume", tmp_path / "r", "--epochs", "2", "--quiet")
    assert again.exit_code == 0, again.output
    assert (tmp_path / "r" / "checkpoints" / "ckpt-000000148").is_dir()
