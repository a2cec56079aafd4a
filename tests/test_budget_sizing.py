"""The shape a time budget buys (charkeras/train/budget_sizing.py, sizing.choose_sizes with a
throughput): pure functions with a fake throughput, and one `fit` end to end."""

import json

from charkeras_cli.main import main
from click.testing import CliRunner

from charkeras.config import CharConfig
from charkeras.train.budget_sizing import LADDER, SEEN_PER_PARAM, choose_rung, parameter_count
from charkeras.train.sizing import AUTO_FIELDS, choose_sizes

VOCAB = 90


class FakeThroughput:
    """chars/s of a cost model like the real one: a step costs a fixed part plus one proportional
    to weights x streams; `scale` makes the machine faster."""

    def __init__(self, scale=1.0):
        self.scale, self.calls = scale, []

    def chars_per_second(self, layers, units, embedding_dim, vocab, batch_size, seq_len):
        self.calls.append((layers, units, batch_size))
        weights = parameter_count(layers, units, embedding_dim, vocab)
        per_char = 3e-4 * layers + 3e-11 * batch_size * weights
        return self.scale * batch_size / per_char


def _config(budget=300.0, **train):
    return CharConfig().replace(model={"vocab_size": VOCAB},
                                train={"time_budget": budget, **train})


def _split(n):
    return int(n * 0.9), n - int(n * 0.9)


def _shape(config):
    return config.model.layers, config.model.units, config.data.batch_size


def test_a_longer_budget_or_a_faster_machine_buys_a_larger_model():
    big = parameter_count(3, 512, 64, VOCAB)
    sizes = [choose_rung(budget, VOCAB, big, FakeThroughput(scale)).rung.params(VOCAB)
             for budget, scale in ((120, 1), (900, 1), (900, 4), (6 * 3600, 4))]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


def test_the_chosen_rung_reaches_k_and_the_next_one_does_not():
    choice = choose_rung(900, VOCAB, parameter_count(3, 512, 64, VOCAB), FakeThroughput())
    index = LADDER.index(choice.rung)
    assert 0 < index < len(LADDER) - 1  # the test means something only between the two ends
    assert choice.seen_per_param >= SEEN_PER_PARAM
    assert "would see" in choice.why
    bigger = choose_rung(900, VOCAB, parameter_count(3, 512, 64, VOCAB), FakeThroughput(),
                         k=choice.seen_per_param + 1e-6)
    assert LADDER.index(bigger.rung) < index


def test_no_rung_reaches_k_in_a_tiny_budget_the_smallest_is_taken():
    choice = choose_rung(8, VOCAB, parameter_count(3, 512, 64, VOCAB), FakeThroughput())
    assert choice.rung == LADDER[0] and "smallest" in choice.why


def test_the_corpus_size_table_caps_the_model():
    n_train, n_val = _split(500_000)  # the table's model: 2 x 256
    config, notes = choose_sizes(_config(budget=24 * 3600), n_train, n_val, AUTO_FIELDS,
                                 FakeThroughput(scale=100))
    assert (config.model.layers, config.model.units) == (2, 256)
    assert any("budget" in note for note in notes)


def test_budget_choice_sets_shape_and_batch_and_records_why():
    n_train, n_val = _split(3_000_000)
    config, notes = choose_sizes(_config(), n_train, n_val, AUTO_FIELDS, FakeThroughput())
    rung = choose_rung(300, VOCAB, parameter_count(2, 512, 64, VOCAB), FakeThroughput()).rung
    assert _shape(config) == (rung.layers, rung.units, rung.batch_size)
    assert config.model.embedding_dim == rung.embedding_dim and config.data.seq_len == 100
    assert config.model.dropout == 0.3  # still the table's for 2.7 M training chars
    assert "5m00s budget" in config.train.sizing and config.train.sizing == " | ".join(notes)
    assert not any("small corpus" in note for note in notes)


def test_given_shape_options_always_win():
    n_train, n_val = _split(3_000_000)
    auto = set(AUTO_FIELDS) - {"layers", "units"}
    config, notes = choose_sizes(_config(budget=60).replace(model={"layers": 3, "units": 700}),
                                 n_train, n_val, auto, FakeThroughput())
    assert (config.model.layers, config.model.units) == (3, 700)
    assert not any("budget" in note for note in notes)


def test_a_given_batch_size_is_kept_and_timed_at_that_size():
    n_train, n_val = _split(3_000_000)
    speed = FakeThroughput()
    config, _ = choose_sizes(_config().replace(data={"batch_size": 8}), n_train, n_val,
                             set(AUTO_FIELDS) - {"batch_size"}, speed)
    assert config.data.batch_size == 8 and {batch for _, _, batch in speed.calls} == {8}


def test_a_fine_tuned_run_is_never_sized_by_the_budget():
    n_train, n_val = _split(3_000_000)
    tuned, notes = choose_sizes(_config(init_from="/runs/base"), n_train, n_val, AUTO_FIELDS,
                                FakeThroughput())
    assert not any("budget" in note for note in notes)
    scratch, _ = choose_sizes(_config(), n_train, n_val, AUTO_FIELDS, FakeThroughput())
    assert _shape(scratch) != _shape(tuned)  # the same run from scratch is sized by the budget


def test_a_small_corpus_keeps_the_rung_batch_with_shorter_validation_windows():
    n_train, n_val = _split(30_000)  # 3,000 held-out chars: 64 streams of 46, two windows of 23
    config, notes = choose_sizes(_config(), n_train, n_val, AUTO_FIELDS, FakeThroughput())
    assert _shape(config) == (1, 128, 64) and config.data.seq_len == 100
    assert config.train.learning_rate == LADDER[0].learning_rate != CharConfig().train.learning_rate
    assert "learning rate 0.008" in notes[0] and "--lr" in notes[0]


def test_a_rung_batch_that_does_not_fit_a_small_corpus_leaves_the_layout_to_the_corpus():
    n_train, n_val = _split(20_000)  # 18,000 training chars: 2 batches of 64 x 100, not 4
    config, notes = choose_sizes(_config(), n_train, n_val, AUTO_FIELDS, FakeThroughput())
    assert _shape(config) == (1, 128, 8)
    # the rung's learning rate goes with its batch size only
    assert config.train.learning_rate == CharConfig().train.learning_rate
    assert "learning rate" not in notes[0]


def test_a_given_learning_rate_or_batch_size_keeps_the_rung_from_setting_the_rate():
    n_train, n_val = _split(3_000_000)
    for given in ("learning_rate", "batch_size"):
        config, notes = choose_sizes(_config(budget=60), n_train, n_val,
                                     set(AUTO_FIELDS) - {given}, FakeThroughput())
        assert config.model.units == LADDER[0].units  # the smallest rung, in a minute
        assert config.train.learning_rate == CharConfig().train.learning_rate
        assert "--lr" not in notes[0]


def test_without_a_budget_the_table_and_a_line_on_how_long_the_run_takes():
    n_train, n_val = _split(3_000_000)
    config, notes = choose_sizes(_config(budget=0), n_train, n_val, AUTO_FIELDS,
                                 FakeThroughput())
    assert _shape(config) == (2, 512, 64)
    assert "--time-budget" in notes[-1] and "20 epochs" in notes[-1]
    no_speed, notes = choose_sizes(_config(budget=0), n_train, n_val, AUTO_FIELDS)
    assert _shape(no_speed) == (2, 512, 64) and not any("--time-budget" in n for n in notes)


def test_fit_sizes_to_the_budget_and_resume_keeps_the_shape(shakespeare_slice, tmp_path):
    out = tmp_path / "run"
    done = CliRunner().invoke(main, ["fit", str(shakespeare_slice), "--out", str(out),
                                     "--time-budget", "25s", "--log", "plain"])
    assert done.exit_code == 0, done.output
    stored = json.loads((out / "config.json").read_text())
    assert "budget" in stored["train"]["sizing"] and "chars/s" in stored["train"]["sizing"]
    assert "model for a 25s budget" in done.output
    shape = {k: stored["model"][k] for k in ("layers", "units", "embedding_dim")}
    again = CliRunner().invoke(main, ["fit", "--resume", str(out), "--max-steps",
                                      str(stored["train"]["max_steps"] + 2), "--log", "plain"])
    assert again.exit_code == 0, again.output
    resumed = json.loads((out / "config.json").read_text())
    assert {k: resumed["model"][k] for k in shape} == shape
    assert resumed["data"]["batch_size"] == stored["data"]["batch_size"]


def test_the_duration_line_counts_max_steps_when_they_end_the_run_sooner():
    n_train, n_val = _split(3_000_000)
    short = _config(budget=0, max_steps=100)
    _, notes = choose_sizes(short, n_train, n_val, AUTO_FIELDS, FakeThroughput())
    _, long_notes = choose_sizes(_config(budget=0), n_train, n_val, AUTO_FIELDS, FakeThroughput())
    assert "100 steps" in notes[-1] and notes[-1] != long_notes[-1]
