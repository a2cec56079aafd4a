"""The viewer page: its embedded data, escaping, no network, and the visualize command."""

import base64
import json
import re

import numpy as np
import pytest
from click.testing import CliRunner
from stub_models import QUOTE_CELL, PlantedCellModel, stub_vocab

from charkeras.inspect.probes import find_cells
from charkeras.inspect.traces import trace
from charkeras.inspect.viewer import most_varied_cell, page_html, visible, write_page

NASTY = 'He said "<script>alert(1)</script> & </b>"\n\tcaf\u00e9 e\u0301 \U0001F600 \u200d (x) \x07 end\n'


def page_data(html_text: str) -> dict:
    match = re.search(r'<script type="application/json" id="data">(.*?)</script>', html_text, re.DOTALL)
    return json.loads(match.group(1))


@pytest.fixture
def nasty_trace():
    return trace(PlantedCellModel(stub_vocab(NASTY), layers=2, units=8), NASTY)


def test_visible_gives_every_character_a_printable_stand_in():
    assert visible("\n") == "\u21b5" and visible("\t") == "\u21e5" and visible("\x07") == "\u2407"
    assert visible("\u200d") == "\u2395"  # zero-width joiner
    assert visible("\u0301") == "\u25cc\u0301"  # combining accent gets a base
    assert visible("") == "\u2205" and visible("[UNK]") == "[UNK]"  # padding and unknown tokens
    assert visible("<") == "<" and visible("\U0001F600") == "\U0001F600"


def test_page_holds_every_cell_of_every_layer_in_order(nasty_trace):
    data = page_data(page_html(nasty_trace))
    n, layers, units = len(NASTY), 2, 8
    assert data["length"] == n and len(data["chars"]) == n and data["codes"] == [ord(c) for c in NASTY]
    acts = np.frombuffer(base64.b64decode(data["acts"]), np.int8).reshape(2, layers, units, n) / 127
    for k, kind in enumerate(data["kinds"]):
        expected = nasty_trace.activations(kind).transpose(1, 2, 0)
        np.testing.assert_allclose(acts[k], expected, atol=0.5 / 127 + 1e-6)
    k = data["top_k"]
    assert data["top_ids"][:k] == nasty_trace.top_ids[0].tolist()
    np.testing.assert_allclose(data["top_probs"][:k], nasty_trace.top_probs[0], atol=1e-4)
    assert data["tokens"] == [visible(t) for t in nasty_trace.tokens]


def test_special_characters_cannot_break_out_of_the_page(nasty_trace):
    html_text = page_html(nasty_trace, title="<b>bold</b> & co")
    assert "alert(1)" in NASTY and "<script>alert" not in html_text
    assert html_text.count("</script>") == 2  # the data block and the page script, nothing from the text
    assert "<title>&lt;b&gt;bold&lt;/b&gt; &amp; co</title>" in html_text
    assert "".join(page_data(html_text)["chars"]) == "".join(visible(c) for c in NASTY)


def test_page_makes_no_network_requests(nasty_trace):
    html_text = page_html(nasty_trace)
    assert "http://" not in html_text and "https://" not in html_text and "//cdn" not in html_text
    assert re.findall(r'(?:src|href)="([^"]*)"', html_text) == ["data:,"]
    assert "default-src 'none'" in html_text  # the CSP forbids fetches even if something tried


def test_initial_cell_and_found_cells(nasty_trace):
    data = page_data(page_html(nasty_trace))
    assert (data["initial"]["layer"], data["initial"]["unit"]) == most_varied_cell(nasty_trace)
    finding = find_cells(nasty_trace, probes=["quotes"], top=2)
    data = page_data(page_html(nasty_trace, initial=("h", 1, 5), highlights=finding.matches))
    assert data["initial"] == {"kind": "h", "layer": 1, "unit": 5}
    assert next((f["layer"], f["unit"]) for f in data["found"]) == QUOTE_CELL
    assert data["found"][0]["label"].startswith("quotes #1: layer 1 cell 5")


def test_write_page_is_atomic_and_utf8(nasty_trace, tmp_path):
    out = write_page(tmp_path / "sub" / "v.html", nasty_trace)
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in out.parent.iterdir()] == ["v.html"]  # no temporary file left behind


@pytest.mark.slow
def test_visualize_command_on_a_training_run(tiny_viz_run, tmp_path):
    from charkeras_cli.main import main

    text = tmp_path / "t.txt"
    text.write_text(NASTY * 3, encoding="utf-8")
    out = tmp_path / "viz.html"
    args = ["visualize", str(tiny_viz_run), "--text", str(text), "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--max-chars", "50", "--layer", "1", "--cell", "3", "--signal", "h"])
    assert result.exit_code == 0, result.output
    data = page_data(out.read_text(encoding="utf-8"))
    assert data["length"] == 50 and data["layers"] == 2 and data["units"] == 8
    assert data["initial"] == {"kind": "h", "layer": 1, "unit": 3}
    assert "read as unknown" in result.output  # the tiny model has never seen '<' or emoji

    bad = CliRunner().invoke(main, [*args, "--cell", "8"])
    assert bad.exit_code == 2 and "--cell must be in [0, 7]" in bad.output
    missing = CliRunner().invoke(main, ["visualize", str(tmp_path), "--text", str(text)])
    assert missing.exit_code == 2 and missing.output.startswith("error:")
