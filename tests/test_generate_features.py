"""generate --prime-file, --beam (keras_hub's BeamSampler over the LSTM state), --novel-against."""

from pathlib import Path

import pytest
from charkeras_cli.main import main
from click.testing import CliRunner

from charkeras.inspect.novelty import known_lines, novel_lines

SHIPPED = str(Path(__file__).resolve().parents[1] / "saved_models" / "shakespeare")


def _run(*args):
    return CliRunner().invoke(main, ["generate", *map(str, args)])


def test_novel_lines_keep_only_new_whole_lines():
    known = known_lines("Anna\nBob\n  Carl  \n")
    kept, total = novel_lines("", "Anna\nDora\nCarl\n\nEve\nFr", known)
    assert kept == ["Dora", "Eve"] and total == 4  # "Fr" was cut off by --n; the empty line is no line


def test_novel_lines_join_the_prime_to_the_first_line():
    kept, total = novel_lines("Title\nAn", "na\nZoe\n", known_lines("Anna\n"))
    assert kept == ["Zoe"] and total == 2


def test_prime_file_is_the_same_as_prime(tmp_path):
    (tmp_path / "p.txt").write_text("ROMEO:\n", encoding="utf-8")
    a = _run(SHIPPED, "--n", "40", "--seed", "3", "--prime", "ROMEO:\n", "--runtime", "tflite")
    b = _run(SHIPPED, "--n", "40", "--seed", "3", "--prime-file", tmp_path / "p.txt", "--runtime", "tflite")
    assert a.exit_code == b.exit_code == 0 and a.output == b.output


def test_prime_given_twice_and_beam_on_litert_are_refused(tmp_path):
    (tmp_path / "p.txt").write_text("x")
    twice = _run(SHIPPED, "--prime", "a", "--prime-file", tmp_path / "p.txt")
    assert twice.exit_code == 2 and "give the prime once" in twice.output
    lite = _run(SHIPPED, "--beam", "3", "--runtime", "tflite")
    assert lite.exit_code == 2 and "--beam runs on TensorFlow" in lite.output


def test_novel_against_prints_only_new_lines(tmp_path):
    first = _run(SHIPPED, "--n", "300", "--seed", "1", "--runtime", "tflite")
    lines = [line for line in first.output.splitlines() if line.strip()]
    (tmp_path / "known.txt").write_text(lines[1] + "\n")
    result = CliRunner().invoke(main, ["generate", SHIPPED, "--n", "300", "--seed", "1", "--runtime", "tflite",
                                       "--novel-against", str(tmp_path / "known.txt")])
    assert result.exit_code == 0 and lines[1].strip() not in [x.strip() for x in result.stdout.splitlines()]
    assert "generated lines are new" in result.output and "1 occur in it" in result.output


@pytest.mark.slow
def test_beam_of_one_is_greedy_and_beams_are_deterministic():
    greedy = _run(SHIPPED, "--n", "60", "--prime", "KING", "--temperature", "0", "--runtime", "savedmodel",
                  "--seed", "0")
    one = _run(SHIPPED, "--n", "60", "--prime", "KING", "--beam", "1")
    assert greedy.exit_code == one.exit_code == 0, one.output
    assert one.stdout == greedy.stdout
    four = _run(SHIPPED, "--n", "60", "--prime", "KING", "--beam", "4")
    again = _run(SHIPPED, "--n", "60", "--prime", "KING", "--beam", "4")
    assert four.exit_code == 0 and four.output == again.output and four.output.startswith("KING")
