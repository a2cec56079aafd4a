"""LaTeX and Python probes, each against a text whose answer is known character by character."""

import numpy as np
import pytest

from charkeras.inspect.probes import (
    PROBES,
    find_cells,
    format_table,
    inside_quotes,
    latex_comment,
    latex_math,
    latex_quotes,
    probe_matrix,
    python_comment,
    python_string,
    rare_probes_warning,
)
from charkeras.inspect.traces import trace


def _marks(values) -> str:
    return "".join(str(int(v)) for v in values)


@pytest.mark.parametrize("probe, text, expected", [
    # % to the end of the line; \% is a percent sign
    (latex_comment, "a % c\nb \\% d % e\n", "00111000000001110"),
    # $...$ and $$...$$ (opening dollars in, closing out); \$ is a dollar sign
    (latex_math, "x $a+b$ y $$c$$ z \\$ w", "0011110000111000000000"),
    # a $ in a comment starts no math
    (latex_math, "% cost $5\n$x$", "0000000000110"),
    # ``...'' from the second backquote to before the closing ''
    (latex_quotes, "say ``hi there'' ok", "0000011111111100000"),
    # strings: double, single with an escaped quote, triple over a newline; a # in a string is no comment
    (python_string, 'x = "a#b" + \'c\\\'d\' # "q"\n"""doc\nmore""" y',
     "00001111000011111000000001111111111100000"),
    (python_comment, 'x = "a#b" + \'c\\\'d\' # "q"\n"""doc\nmore""" y',
     "00000000000000000001111100000000000000000"),
    # an unterminated one-line string ends with its line
    (python_string, "s = 'oops\nt = 1", "000011111000000"),
])
def test_probe_marks_exactly_the_known_characters(probe, text, expected):
    got = probe(text)
    assert got.dtype == np.float32 and len(got) == len(text)
    assert _marks(got) == expected


def test_new_probes_are_registered():
    for name in ("latex_comment", "latex_math", "latex_quotes", "python_comment", "python_string"):
        assert name in PROBES


class _ProbeFollower:
    """A one-cell stand-in whose cell copies one probe's value: the finder must pick that probe's cell."""

    def __init__(self, vocab, values_by_position):
        self.vocab, self.layers, self.units = vocab, 1, 3
        self._values = values_by_position
        self._i = 0

    def zero_state(self, batch):
        return np.zeros((batch, 2, 3), np.float32)

    def step(self, ids, state):
        new = state.copy()
        new[:, 1, 1] = 2.0 * self._values[self._i] - 1.0  # cell 1 follows the probe
        new[:, 1, 0] = np.sin(self._i)  # cells 0 and 2: unrelated
        new[:, 1, 2] = (self._i % 7) / 7
        self._i += 1
        return np.zeros((len(ids), len(self.vocab)), np.float32), new


def test_the_table_says_which_probes_a_latex_text_exercises():
    from stub_models import stub_vocab

    text = ("We have $x^2 + y^2 = z^2$ here. % a remark\n``Quoted,'' she said; $a$ and $b$.\n") * 20
    model = _ProbeFollower(stub_vocab(text), latex_math(text))
    finding = find_cells(trace(model, text), top=1)
    best = {m.probe: m for m in finding.matches}
    assert best["latex_math"].unit == 1 and best["latex_math"].r > 0.99
    table = format_table(finding)
    exercised, skipped = table.splitlines()[:2]
    assert "latex_math" in exercised and "latex_comment" in exercised and "latex_quotes" in exercised
    assert "python_comment" in skipped or "python_comment" in exercised  # ' in prose may read as a string
    assert "comment" in skipped.split(": ", 1)[1].split(", ")  # no /* */, // or # in the text


_LATEX = ("Don't panic: the ``quoted'' text isn't code. We have $x^2$ here. % a remark\n"
          "It's the reader's turn; ``another,'' she said.\n") * 20
_PYTHON = ('import os\n\n\ndef main(path):\n    """Read it."""  # the docstring\n'
           "    if path:\n        return os.path.basename(path) + 'x'\n    return ''\n") * 10


def test_python_probes_are_not_exercised_by_latex_or_prose():
    # Apostrophes and TeX quotes are not Python strings: on text that is not Python source the
    # Python probes stay at 0, so `cells` lists them as not exercised instead of ranking cells.
    from stub_models import stub_vocab

    _, values = probe_matrix(_LATEX, ["python_string", "python_comment"])
    assert not values.any()
    finding = find_cells(trace(_ProbeFollower(stub_vocab(_LATEX), latex_math(_LATEX)), _LATEX))
    assert {"python_string", "python_comment"} <= set(finding.skipped)
    _, values = probe_matrix(_PYTHON, ["python_string", "python_comment"])
    assert values[:, 0].sum() == python_string(_PYTHON).sum() > 0
    assert values[:, 1].sum() == python_comment(_PYTHON).sum() > 0


def test_a_probe_the_text_exercises_only_a_handful_of_times_is_flagged():
    from stub_models import stub_vocab

    text = "a line with two \"quoted\" words and one \"more\"\n" + "plain words on a line\n" * 60
    finding = find_cells(trace(_ProbeFollower(stub_vocab(text), inside_quotes(text)), text))
    assert finding.rare == {"quotes": 2}  # two quoted spans: a correlation over them means little
    assert "line_position" not in finding.rare and "word_start" not in finding.rare
    assert "quotes (2 times)" in rare_probes_warning(finding)
    assert rare_probes_warning(find_cells(trace(_ProbeFollower(stub_vocab(_PYTHON),
                                                               python_string(_PYTHON)), _PYTHON),
                                          probes=["python_string", "newline"])) is None
