"""The viewer and report pages in a real headless Chromium (Debian's `chromium` package).

Chromium is driven over the DevTools protocol through a pipe by tests/chromium.py (shared with the web
page's tests). Skipped when no Chromium is installed, unless CHARKERAS_REQUIRE_BROWSER=1 (CI sets it)
makes that a failure.
"""

import io
import re

import pytest
from chromium import launch_or_skip
from stub_models import QUOTE_CELL, PlantedCellModel, stub_vocab

from charkeras.inspect.probes import find_cells
from charkeras.inspect.traces import trace
from charkeras.inspect.viewer import visible, write_page

TEXT = ('ROMEO:\nShe said "come <b>here</b> & stay" (and [then] left).\n\n'
        'JULIET:\n"Caf\u00e9 \U0001F600" \u2014 e\u0301 \t</script> done.\n') * 4


@pytest.fixture(scope="module")
def browser():
    chromium = launch_or_skip()
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def viewer_page(tmp_path_factory):
    model = PlantedCellModel(stub_vocab(TEXT), layers=2, units=8, seed=2)
    result = trace(model, TEXT)
    finding = find_cells(result, probes=["quotes", "line_position"], top=2)
    path = tmp_path_factory.mktemp("browser") / "viewer.html"
    write_page(path, result, title="viewer <test> & co", initial=("c", 0, 0), highlights=finding.matches)
    return path, result


def _background_colours(browser) -> list[str]:
    return browser.js("Array.from(document.querySelectorAll('.ch'), e => getComputedStyle(e).backgroundColor)")


def _rgb(css: str) -> tuple[int, int, int]:
    return tuple(int(v) for v in css[css.index("(") + 1:css.index(")")].split(",")[:3])


def test_viewer_loads_cleanly_with_one_element_per_character(browser, viewer_page):
    path, _ = viewer_page
    browser.open(path.as_uri())
    assert browser.problems() == []
    assert browser.requested_urls() == [path.as_uri()]  # nothing fetched from anywhere
    assert browser.js("document.querySelectorAll('.ch').length") == len(TEXT)
    shown = browser.js("Array.from(document.querySelectorAll('.ch'), e => e.textContent)")
    assert shown == [visible(ch) for ch in TEXT]  # '<b>', '&', '</script>' and emoji shown as themselves
    assert browser.js("document.querySelectorAll('.g span').length") == 5 * len(TEXT)
    assert browser.js("document.title") == "viewer <test> & co"


def test_choosing_a_cell_recolours_the_text(browser, viewer_page):
    path, result = viewer_page
    browser.open(path.as_uri())
    before = _background_colours(browser)
    layer, unit = QUOTE_CELL
    browser.js(f"""(() => {{
        const layer = document.getElementById('layer');
        layer.value = '{layer}'; layer.dispatchEvent(new Event('change'));
        const unit = document.getElementById('unit');
        unit.value = '{unit}'; unit.dispatchEvent(new Event('change'));
    }})()""")
    after = _background_colours(browser)
    assert sum(a != b for a, b in zip(before, after)) > len(TEXT) // 2
    # The quote cell is high (red) exactly inside quotes and zero (white) elsewhere.
    inside = result.cells[:, layer, unit] > 0.5
    for colour, is_inside in zip(after, inside):
        r, g, b = _rgb(colour)
        assert (r > b + 100) if is_inside else (r, g, b) == (255, 255, 255)
    assert browser.js("location.hash") == f"#c/{layer}/{unit}"
    assert browser.problems() == []


def test_found_cells_menu_and_hover_details(browser, viewer_page):
    path, result = viewer_page
    browser.open(path.as_uri())
    browser.js("""(() => { const f = document.getElementById('found');
                          f.value = '0'; f.dispatchEvent(new Event('change')); })()""")
    assert browser.js("document.getElementById('status').textContent").startswith(
        f"layer {QUOTE_CELL[0]}, cell {QUOTE_CELL[1]}")
    i = TEXT.index('"') + 2
    box = browser.js(f"(() => {{ const r = document.querySelectorAll('.ch')[{i}].getBoundingClientRect();"
                     " return [r.x + r.width / 2, r.y + r.height / 2]; })()")
    browser.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": box[0], "y": box[1]})
    tip = browser.js("(() => { const t = document.getElementById('tip'); return [t.hidden, t.textContent]; })()")
    assert tip[0] is False
    value = result.cells[i, QUOTE_CELL[0], QUOTE_CELL[1]]
    shown = re.search(rf"layer {QUOTE_CELL[0]} cell {QUOTE_CELL[1]} tanh\(c\) = (-?[\d.]+)", tip[1])
    assert float(shown.group(1)) == pytest.approx(value, abs=1 / 127)  # the page keeps int8 steps
    best = result.tokens[result.top_ids[i, 0]]
    assert f"'{visible(best)}'  {100 * result.top_probs[i, 0]:5.1f}%" in tip[1]


def test_screenshot_is_not_blank(browser, viewer_page, tmp_path):
    from PIL import Image

    path, _ = viewer_page
    browser.open(path.as_uri() + f"#c/{QUOTE_CELL[0]}/{QUOTE_CELL[1]}")
    png = browser.screenshot()
    (tmp_path / "viewer.png").write_bytes(png)  # kept by pytest for a person to look at
    with Image.open(io.BytesIO(png)) as image:
        rgb = image.convert("RGB")
        colours = rgb.getcolors(1 << 24)
        white = sum(count for count, colour in colours if colour == (255, 255, 255))
        assert rgb.size[0] == 1280 and rgb.size[1] > 600
        assert len(colours) > 100 and white < 0.95 * rgb.size[0] * rgb.size[1]
        reds = sum(count for count, (r, g, b) in colours if r > 150 and b < 120)
        assert reds > 500  # the quote cell's red is on screen


def test_report_page_loads_cleanly(browser, tmp_path):
    from charkeras.config import CharConfig
    from charkeras.text.vocabulary import Vocabulary
    from charkeras.train.run.directory import RunDir
    from charkeras.train.run.report import write_report

    run = tmp_path / "run"
    RunDir(run).write_run_files(CharConfig().replace(model={"vocab_size": 4}, data={"batch_size": 2, "seq_len": 5}),
                                Vocabulary.from_text("ab"), {"source": "s", "sha256": "0", "train_chars": 101})
    (run / "log.csv").write_text("epoch,step,loss,lr,val_loss\n0,5,2.5,0.002,2.2\n1,10,2.0,0.001,1.9\n")
    (run / "steps.csv").write_text("step,loss,lr\n0,3.0,0.002\n5,2.5,0.002\n10,2.0,0.001\n")
    (run / "validations.csv").write_text("step,val_loss\n5,2.2\n10,1.9\n")
    (run / "samples.jsonl").write_text('{"step": 5, "text": "a <i>b</i>"}\n{"step": 10, "text": "ab\\nab"}\n')
    page = write_report(run)
    browser.open(page.as_uri())
    assert browser.problems() == []
    assert browser.js("document.getElementById('loss-plot').naturalWidth") > 500
    assert browser.js("Array.from(document.querySelectorAll('#samples pre'), e => e.textContent)") == [
        "a <i>b</i>", "ab\nab"]
