"""Sizes chosen from the corpus (charkeras/train/sizing.py) and sizing errors that say what to pass."""

import json
import re

import pytest
from charkeras_cli.main import main
from click.testing import CliRunner

from charkeras.config import CharConfig
from charkeras.data.streams import StreamLayout, validation_seq_len
from charkeras.errors import CorpusError
from charkeras.train.sizing import (
    AUTO_FIELDS,
    MODEL_TABLE,
    SMALL_CORPUS,
    choose_sizes,
    model_size_for,
)


def _split(n, val_frac=0.1):
    n_train = int(n * (1 - val_frac))
    return n_train, n - n_train


def test_defaults_kept_when_they_fit():
    config, notes = choose_sizes(CharConfig(), *_split(1_000_000), {"batch_size", "seq_len"})
    assert (config.data.batch_size, config.data.seq_len) == (64, 100) and notes == []


@pytest.mark.parametrize("chars", [30_000, 5_000, 1_000, 100, 20])
def test_small_corpora_get_a_layout_that_fits_both_sides_of_the_split(chars):
    n_train, n_val = _split(chars)
    config, notes = choose_sizes(CharConfig(), n_train, n_val, AUTO_FIELDS)
    b, t = config.data.batch_size, config.data.seq_len
    StreamLayout.for_length(n_train, b, t)  # neither raises
    StreamLayout.for_length(n_val, b, validation_seq_len(n_val, b, t))
    assert any("--batch-size" in note and "small corpus" in note for note in notes)


@pytest.mark.parametrize("chars", [30_000, 90_000])
def test_a_small_corpus_without_a_budget_trains_the_small_model_at_64_streams(chars):
    n_train, n_val = _split(chars)
    config, notes = choose_sizes(CharConfig(), n_train, n_val, AUTO_FIELDS)
    assert (config.model.layers, config.model.units) == (MODEL_TABLE[0].layers, MODEL_TABLE[0].units)
    assert (config.data.batch_size, config.data.seq_len) == (SMALL_CORPUS.batch_size, SMALL_CORPUS.seq_len) == (64, 75)
    assert config.train.learning_rate == SMALL_CORPUS.learning_rate != CharConfig().train.learning_rate
    assert any("small corpus" in note and "--seq-len 75 --lr 0.008" in note for note in notes)
    assert StreamLayout.for_length(n_train, 64, 75).batches >= SMALL_CORPUS.train_batches
    assert StreamLayout.for_length(n_val, 64, validation_seq_len(n_val, 64, 75)).batches >= 2
    assert config.train.sizing == " | ".join(notes)


@pytest.mark.parametrize("case, auto, given", [
    # the rate goes with the layout: a given --lr keeps the fewer streams
    ("lr given", set(AUTO_FIELDS) - {"learning_rate"}, {}),
    # another model than the table's smallest
    ("units given", set(AUTO_FIELDS) - {"units"}, {"model": {"units": 256}}),
    ("a time budget", set(AUTO_FIELDS), {"train": {"time_budget": 300.0}}),
])
def test_the_small_corpus_layout_only_with_its_rate_and_model_and_without_a_budget(case, auto, given):
    config, _ = choose_sizes(CharConfig().replace(**given), *_split(30_000), auto)
    assert (config.data.batch_size, config.data.seq_len) == (8, 100), case
    assert config.train.learning_rate == CharConfig().train.learning_rate, case


def test_a_corpus_under_five_batches_of_the_small_corpus_layout_keeps_fewer_streams():
    n_train, n_val = _split(20_000)  # 18,000 training chars: 3 batches of 64 x 75, 60 steps in 20 epochs
    config, _ = choose_sizes(CharConfig(), n_train, n_val, AUTO_FIELDS)
    assert (config.data.batch_size, config.data.seq_len) == (8, 100)
    assert config.train.learning_rate == CharConfig().train.learning_rate
    assert StreamLayout.for_length(n_val, 8, 100).batches >= 2


def test_given_options_always_win():
    given = CharConfig().replace(model={"units": 300, "dropout": 0.4}, data={"seq_len": 50})
    config, _ = choose_sizes(given, *_split(30_000), {"batch_size", "layers", "embedding_dim"})
    assert config.model.units == 300 and config.model.dropout == 0.4 and config.data.seq_len == 50
    assert config.data.batch_size <= 29  # chosen to fit the validation text at the given seq-len
    assert config.model.layers == model_size_for(27_000).layers


def test_given_sizes_that_do_not_fit_say_what_to_pass():
    with pytest.raises(CorpusError) as err:
        choose_sizes(CharConfig(), *_split(5_000), set())
    message = str(err.value)
    assert "training text (4,500 chars)" in message and "--batch-size 64 x --seq-len 100" in message
    assert "--batch-size 44 at --seq-len 100" in message
    assert "(raise" not in message.split("training text")[0]  # the old garbled wording is gone
    short_val = CharConfig().replace(data={"val_frac": 0.002})  # 60 held-out chars, 64 streams
    with pytest.raises(CorpusError) as err:
        choose_sizes(short_val, 29_940, 60, set())
    assert "validation text (60 chars)" in str(err.value) and "raise --val-frac" in str(err.value)


def test_given_sizes_validate_in_shorter_windows_when_the_held_out_text_is_short():
    n_train, n_val = _split(30_000)  # 3,000 held-out chars: not one window of 64 x 100
    config, _ = choose_sizes(CharConfig(), n_train, n_val, set())
    assert (config.data.batch_size, config.data.seq_len) == (64, 100)
    t = validation_seq_len(n_val, 64, 100)
    assert t == 23 and StreamLayout.for_length(n_val, 64, t).batches == 2


@pytest.mark.parametrize("n_val, batch, expected", [
    (20_001, 64, 100),  # two full windows fit: unchanged
    (12_801, 64, 100),
    (12_800, 64, 99),  # one id short of two windows of 100
    (3_001, 64, 23),
    (129, 64, 1),  # two ids per stream: two windows of 1
    (65, 64, 1),  # one window of 1
    (64, 64, 100),  # not even that: the full window, whose layout raises
])
def test_validation_windows(n_val, batch, expected):
    assert validation_seq_len(n_val, batch, 100) == expected
    if (n_val - 1) // batch >= 1:  # the windows chosen give 2 batches when the streams allow it
        wanted = 2 if (n_val - 1) // batch >= 2 else 1
        assert StreamLayout.for_length(n_val, batch, expected).batches >= wanted


@pytest.mark.parametrize("chars", [0, 1, 5])
def test_a_tiny_corpus_is_never_told_to_pass_zero(chars):
    for auto in (AUTO_FIELDS, ()):
        with pytest.raises(CorpusError) as err:
            choose_sizes(CharConfig(), *_split(chars), auto)
        message = str(err.value)
        assert "too short to train on" in message and " 0" not in message.replace(" 0.1", "")


def test_layout_suggestions_are_never_zero():
    with pytest.raises(CorpusError) as err:
        StreamLayout.for_length(50, 64, 100)
    assert "--batch-size 7 --seq-len 7" in str(err.value) and " 0 " not in str(err.value)
    with pytest.raises(CorpusError) as err:
        StreamLayout.for_length(1, 64, 100, "validation text")
    assert "at least 2 characters" in str(err.value)


def test_model_table_grows_with_the_corpus():
    rows = [model_size_for(n) for n in (10_000, 300_000, 3_000_000, 30_000_000)]
    assert [r.units * r.layers for r in rows] == sorted(r.units * r.layers for r in rows)
    assert rows[-1] is MODEL_TABLE[-1]


def test_cli_one_character_corpus(tmp_path):
    (tmp_path / "one.txt").write_text("a")
    result = CliRunner().invoke(main, ["fit", str(tmp_path / "one.txt"), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "too short to train on" in result.output
    assert "--batch-size 0" not in result.output and not (tmp_path / "r").exists()


def test_cli_help_says_sizes_are_chosen_from_the_corpus():
    result = CliRunner().invoke(main, ["fit", "--help"])
    text = " ".join(result.output.split())
    assert "[default: (by corpus size)]" in text and "less for small corpora" in text


@pytest.mark.slow
def test_small_corpus_trains_with_the_defaults_and_records_the_choice(shakespeare_slice, tmp_path):
    result = CliRunner().invoke(main, ["fit", str(shakespeare_slice), "--out", str(tmp_path / "r"), "--units", "8",
                                       "--layers", "1", "--epochs", "1", "--sample-every", "0"])
    assert result.exit_code == 0, result.output
    assert "small corpus" in result.output and "--batch-size 8 --seq-len 25" in result.output
    stored = json.loads((tmp_path / "r" / "config.json").read_text())
    assert stored["data"]["batch_size"] == 8 and stored["model"]["units"] == 8
    assert stored["model"]["embedding_dim"] == model_size_for(5400).embedding_dim
    again = CliRunner().invoke(main, ["fit", "--resume", str(tmp_path / "r"), "--epochs", "2", "--quiet"])
    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "r" / "config.json").read_text())["data"] == stored["data"]


@pytest.mark.slow
def test_fit_on_a_small_text_records_the_small_corpus_layout_and_rate(shakespeare_path, tmp_path):
    text = tmp_path / "small.txt"
    text.write_text(shakespeare_path.read_text(encoding="utf-8")[:40_000], encoding="utf-8")
    result = CliRunner().invoke(main, ["fit", str(text), "--out", str(tmp_path / "r"), "--max-steps", "2",
                                       "--sample-every", "0", "--log", "plain"])
    assert result.exit_code == 0, result.output
    assert "--batch-size 64 --seq-len 75 --lr 0.008" in result.output
    stored = json.loads((tmp_path / "r" / "config.json").read_text())
    assert (stored["data"]["batch_size"], stored["data"]["seq_len"], stored["train"]["learning_rate"]) == (64, 75, 0.008)


def test_a_batch_wider_than_the_held_out_text_allows_trains_and_validates(shakespeare_slice, tmp_path):
    # 600 held-out chars: 32 streams of 18, not one window of 25; validation reads two of 9
    result = CliRunner().invoke(main, [
        "fit", str(shakespeare_slice), "--out", str(tmp_path / "r"), "--units", "8", "--layers", "1",
        "--embedding-dim", "4", "--batch-size", "32", "--seq-len", "25", "--max-steps", "3",
        "--val-every", "2", "--sample-every", "0", "--log", "plain"])
    assert result.exit_code == 0, result.output
    best = re.search(r"best val loss (\d+\.\d+) nats/char", result.output)
    assert best and 0 < float(best.group(1)) < 10, result.output
    assert "validation 2 batch(es) in windows of 9" in result.output
    assert json.loads((tmp_path / "r" / "config.json").read_text())["data"]["batch_size"] == 32
