"""End to end: `charkeras web`'s site for the shipped model, served by charkeras.web.server on a free
127.0.0.1 port, generating in headless Chromium (tests/chromium.py) the same text as the SavedModel.

Skipped without Chromium unless CHARKERAS_REQUIRE_BROWSER=1 (CI). A logit near-tie could flip a character
between LiteRT.js and the SavedModel (as between LiteRT and the SavedModel in Python); it never has for
these seeds.
"""

import io
from pathlib import Path

import pytest
from chromium import launch_or_skip

import charkeras
from charkeras.web.server import serving_in_background
from charkeras.web.site import build_site

pytestmark = pytest.mark.slow

SHIPPED = Path(__file__).resolve().parents[1] / "saved_models" / "shakespeare"
PRIME, N = "ROMEO:", 200
CASES = [(0.8, 1), (0.8, 2), (0.0, 3)]  # (temperature, seed)
PAGE_STATE = """(() => ({
    output: document.getElementById('output').textContent,
    prime: document.getElementById('prime-echo').textContent,
    error: document.getElementById('error').hidden ? null : document.getElementById('error').textContent,
    chars_per_second: Number(document.getElementById('speed').dataset.charsPerSecond),
    isolated: globalThis.crossOriginIsolated,
}))()"""


@pytest.fixture(scope="module")
def browser():
    chromium = launch_or_skip()  # first: no site is built where the test would be skipped
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def site_url(browser, tmp_path_factory):
    with serving_in_background(build_site(SHIPPED, tmp_path_factory.mktemp("web") / "site")) as url:
        yield url


@pytest.fixture(scope="module")
def expected():
    model = charkeras.load(SHIPPED, runtime="savedmodel")
    return {case: model.generate(N, prime=PRIME, temperature=case[0], seed=case[1]) for case in CASES}


def generate_in_page(browser, url: str) -> dict:
    browser.open(url)
    browser.wait_until("document.getElementById('output').dataset.done === '1'", timeout=120)
    return browser.js(PAGE_STATE)


@pytest.mark.parametrize(("temperature", "seed"), CASES)
def test_the_page_generates_the_savedmodel_text_for_a_seed(browser, site_url, expected, temperature, seed):
    url = f"{site_url}?prime={PRIME}&n={N}&temperature={temperature}&seed={seed}&autorun=1"
    state = generate_in_page(browser, url)
    assert state["error"] is None
    assert state["prime"] == PRIME
    assert state["output"] == expected[(temperature, seed)]
    assert state["chars_per_second"] > 0
    assert state["isolated"] is True  # served with COOP/COEP: LiteRT.js's threaded build could run
    assert browser.problems() == []
    assert all(u.startswith(site_url) for u in browser.requested_urls())  # nothing from the network


def test_the_page_is_not_blank(browser, site_url, tmp_path):
    from PIL import Image

    generate_in_page(browser, f"{site_url}?prime={PRIME}&n={N}&seed=1&autorun=1")
    png = browser.screenshot()
    (tmp_path / "web.png").write_bytes(png)  # kept by pytest for a person to look at
    with Image.open(io.BytesIO(png)) as image:
        rgb = image.convert("RGB")
        colours = rgb.getcolors(1 << 24)
        background = max(colours)[0]
        assert rgb.size[0] == 1280 and rgb.size[1] > 600
        assert len(colours) > 50 and background < 0.97 * rgb.size[0] * rgb.size[1]


def test_the_page_opened_as_a_file_says_it_needs_a_web_server(browser, tmp_path):
    from charkeras.web import site as site_module

    static = Path(site_module.__file__).parent / "static"
    page = tmp_path / "index.html"
    page.write_text((static / "index.html").read_text(encoding="utf-8"), encoding="utf-8")
    browser.open(page.as_uri())
    browser.wait_until("document.readyState === 'complete'", timeout=30)
    state = browser.js("""(() => ({
        info: document.getElementById('model-info').textContent,
        error: document.getElementById('error').hidden ? null : document.getElementById('error').textContent,
    }))()""")
    assert state["info"] == "The model cannot load from a file:// page."
    assert state["error"].startswith("Serve this directory over HTTP: run `charkeras web MODEL --serve`")
