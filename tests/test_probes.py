"""The built-in probes, the correlation maths, and the finder on models whose answer is known."""

import numpy as np
import pytest
from click.testing import CliRunner
from stub_models import DEPTH_CELL, LINE_CELL, QUOTE_CELL, PlantedCellModel, stub_vocab

from charkeras.inspect.probes import (
    after_newline,
    bracket_depth,
    correlations,
    find_cells,
    format_table,
    inside_brackets,
    inside_comment,
    inside_quotes,
    line_position,
    probe_matrix,
    word_start,
)
from charkeras.inspect.traces import trace


def marks(values) -> str:
    return "".join("#" if v else "." for v in values)


def test_inside_quotes_includes_the_opening_quote_and_not_the_closing_one():
    assert marks(inside_quotes('a "bc" d')) == '..###...'
    assert marks(inside_quotes('\u201cso\u201d "x')) == "###..##"  # curly pair, then an unclosed one


def test_bracket_depth_nests_and_never_goes_negative():
    text = "f(a[b]) ) (x"
    assert bracket_depth(text).tolist() == [0, 1, 1, 2, 2, 1, 0, 0, 0, 0, 1, 1]
    assert marks(inside_brackets(text)) == ".#####....##"


def test_line_position_counts_from_each_newline():
    assert line_position("ab\ncde\n\nf").tolist() == [1, 2, 0, 1, 2, 3, 0, 0, 1]


def test_comment_probe_handles_line_block_hash_and_strings():
    text = 'x = "a // b" // hi\ny /* c */ z # q\n/*/ still */ out'
    expected = ("..............####."  # the '//' inside the string does not count; the newline ends it
                "...#####....###."  # block comment from its '*'; '#' comment to the end of the line
                ".##########.....")  # '/*/' does not close itself
    assert marks(inside_comment(text)) == expected


def test_word_start_and_after_newline():
    assert marks(word_start("to be, or_not\n42x")) == "#..#...#......#.."
    assert marks(after_newline("a\nb\n")) == ".#.#"


def test_correlations_match_numpy_and_mark_constant_columns_nan():
    rng = np.random.default_rng(0)
    acts = rng.normal(size=(200, 5))
    acts[:, 3] = 0.25  # a cell that never moves
    probes = np.stack([acts[:, 0] * 2 + rng.normal(size=200), np.ones(200), rng.normal(size=200)], axis=1)
    r = correlations(acts, probes)
    for i in (0, 1, 2, 4):
        for j in (0, 2):
            assert r[i, j] == pytest.approx(np.corrcoef(acts[:, i], probes[:, j])[0, 1], abs=1e-9)
    assert np.isnan(r[3]).all() and np.isnan(r[:, 1]).all()


def _structured_text(seed=0, lines=120) -> str:
    """Lines of words with quoted spans and nested brackets at random places."""
    rng = np.random.default_rng(seed)
    words = ["the", "king", "said", "to", "him", "and", "then", "we", "go", "now"]
    out = []
    for _ in range(lines):
        line = []
        for _ in range(rng.integers(2, 9)):
            w = str(rng.choice(words))
            roll = rng.random()
            if roll < 0.15:
                w = f'"{w} {rng.choice(words)}"'
            elif roll < 0.25:
                w = f"({w} [{rng.choice(words)}])"
            line.append(w)
        out.append(" ".join(line))
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("planted", [
    {"quote_cell": QUOTE_CELL, "line_cell": LINE_CELL, "depth_cell": DEPTH_CELL},
    {"quote_cell": (0, 7), "line_cell": (1, 0), "depth_cell": (0, 4)},
])
@pytest.mark.parametrize("kind", ["c", "h"])
def test_finder_ranks_the_planted_cells_first(planted, kind):
    text = _structured_text()
    model = PlantedCellModel(stub_vocab(text), layers=2, units=8, seed=1, **planted)
    finding = find_cells(trace(model, text), kind=kind, top=3)
    best = {m.probe: m for m in finding.matches if m.rank == 1}
    assert (best["quotes"].layer, best["quotes"].unit) == planted["quote_cell"]
    assert best["quotes"].r > 0.99  # tanh(c) is exactly two-valued with the quote state
    assert (best["bracket_depth"].layer, best["bracket_depth"].unit) == planted["depth_cell"]
    assert (best["line_position"].layer, best["line_position"].unit) == planted["line_cell"]
    assert best["line_position"].r > 0.9
    assert "comment" in finding.skipped  # no comment markers in this text
    runner_up = next(m for m in finding.matches if m.probe == "quotes" and m.rank == 2)
    assert abs(runner_up.r) < best["quotes"].r


def test_finder_uses_absolute_correlation_and_reports_the_sign():
    text = _structured_text(seed=2)
    model = PlantedCellModel(stub_vocab(text), seed=4)
    t = trace(model, text)
    flipped = type(t)(t.text, t.ids, -t.cells, t.hidden, t.top_ids, t.top_probs, t.next_probs, t.tokens)
    m = next(m for m in find_cells(flipped, probes=["quotes"]).matches if m.rank == 1)
    assert (m.layer, m.unit) == QUOTE_CELL and m.r < -0.99


def test_format_table_lists_matches_and_skipped_probes():
    text = _structured_text(seed=3, lines=30)
    finding = find_cells(trace(PlantedCellModel(stub_vocab(text)), text), top=2)
    table = format_table(finding)
    layer, unit = QUOTE_CELL
    quote_row = next(line for line in table.splitlines() if line.startswith("quotes") and "  1  " in line)
    assert quote_row.split()[-4:-2] == [str(layer), str(unit)]
    lines = table.splitlines()
    assert lines[0].startswith("probes this text exercises") and "quotes" in lines[0]
    assert lines[1].startswith("not exercised") and "comment" in lines[1] and "latex_math" in lines[1]
    assert len(lines) == 2 + 2 + 2 * (len(probe_matrix(text)[0]) - len(finding.skipped))


def _bracket_lstm_model(text, cell_unit=2, units=4):
    """A real Keras step model whose layer-0 cell `cell_unit` is set by hand: '(' writes +1 into c, ')'
    writes 0, every other character keeps c (forget gate open, input gate shut). The rest of the
    network has random weights and is driven by random embedding dimensions."""
    from charkeras.config import ModelConfig
    from charkeras.model.networks import build_inference_model, lstm_name

    vocab = stub_vocab(text)
    cfg = ModelConfig(vocab_size=len(vocab), embedding_dim=6, units=units, layers=2, dropout=0.0)
    model = build_inference_model(cfg)
    rng = np.random.default_rng(0)
    emb = rng.normal(0, 1.0, size=(len(vocab), 6)).astype(np.float32)
    emb[:, :2] = 0.0
    emb[vocab.encode("(")[0], :2] = [1.0, 0.0]
    emb[vocab.encode(")")[0], :2] = [0.0, 1.0]
    model.get_layer("embedding").set_weights([emb])
    kernel, recurrent, bias = model.get_layer(lstm_name(0)).get_weights()
    kernel[:2, :] = 0.0  # only the planted cell sees the bracket dimensions
    i, f, g, o = (gate * units + cell_unit for gate in range(4))
    kernel[:, [i, f, g, o]] = 0.0
    recurrent[:, [i, f, g, o]] = 0.0
    kernel[0, i] = kernel[1, i] = 16.0
    bias[i] = -8.0  # input gate: open only on a bracket
    kernel[0, f] = kernel[1, f] = -16.0
    bias[f] = 8.0  # forget gate: keep c except on a bracket
    kernel[0, g], kernel[1, g], bias[g] = 8.0, 0.0, 0.0  # candidate: +1 for '(', 0 for ')'
    bias[o] = 8.0
    model.get_layer(lstm_name(0)).set_weights([kernel, recurrent, bias])

    class StepModel:
        layers = cfg.layers

        def __init__(self):
            self.vocab, self.units = vocab, units

        def zero_state(self, batch):
            return np.zeros((batch, 2 * cfg.layers, units), np.float32)

        def step(self, ids, state):
            out = model({"char_id": ids, "state": state}, training=False)
            return np.asarray(out["logits"]), np.asarray(out["state"])

    return StepModel()


@pytest.mark.slow
def test_finder_finds_a_hand_wired_bracket_cell_in_a_real_lstm():
    text = _structured_text(seed=5, lines=25).replace('"', "")
    model = _bracket_lstm_model(text, cell_unit=2)
    t = trace(model, text)
    assert t.cells[text.index("("), 0, 2] > 0.7 and abs(t.cells[text.index(")"), 0, 2]) < 0.01
    best = next(m for m in find_cells(t, probes=["brackets"]).matches if m.rank == 1)
    assert (best.layer, best.unit) == (0, 2) and best.r > 0.98


@pytest.mark.slow
def test_cells_command_prints_the_table_and_writes_a_page(tiny_viz_run, tmp_path):
    from charkeras_cli.main import main

    text = tmp_path / "t.txt"
    text.write_text(_structured_text(seed=6, lines=20), encoding="utf-8")
    out = tmp_path / "cells.html"
    result = CliRunner().invoke(main, ["cells", str(tiny_viz_run), "--text", str(text), "--out", str(out),
                                       "--top", "2", "--probe", "quotes", "--probe", "line_position"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith(("quotes ", "line_position "))]
    assert len(rows) == 4
    assert out.is_file() and "quotes #1: layer" in out.read_text(encoding="utf-8")

    bad = CliRunner().invoke(main, ["cells", str(tiny_viz_run), "--text", str(tmp_path / "nope.txt")])
    assert bad.exit_code == 2 and "error: text file not found" in bad.output


def test_c_preprocessor_lines_are_not_comments():
    text = "#include <stdio.h>\n#define N 2 // n\n# a comment\n"
    marked = inside_comment(text)
    assert not marked[:text.index("// n")].any()
    assert marked[text.index("// n") + 1:text.index("\n# a")].all()
    assert marked[text.index("# a"):-1].all()


@pytest.mark.slow
def test_cells_warns_when_the_text_exercises_a_probe_a_handful_of_times(tiny_viz_run, tmp_path):
    from charkeras_cli.main import main

    text = tmp_path / "t.txt"
    text.write_text('one "quoted" word\n' + "the king said to him\n" * 40, encoding="utf-8")
    result = CliRunner().invoke(main, ["cells", str(tiny_viz_run), "--text", str(text), "--out",
                                       str(tmp_path / "cells.html"), "--probe", "quotes",
                                       "--probe", "line_position"])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines()
                if line.startswith("warning:") and "fewer than 10 times" in line]
    assert len(warnings) == 1 and "quotes (1 time)" in warnings[0], result.output
    assert "line_position" not in warnings[0]
