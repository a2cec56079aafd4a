"""Generation speed of `charkeras web`'s page in headless Chromium beside LiteRT in Python, and how often the
page's text equals the SavedModel's for a seed.

    .venv/bin/python tools/bench_web.py [--chars 3000] [--rounds 3] [--match]

Speed: builds the site of the shipped 2x512 model and of a 2x256 model with random weights (speed does not
depend on training), serves each with charkeras.web.server, and alternates rounds of the page
(`?n=CHARS&autorun=1`, the chars/s it shows; 1 thread) and of `charkeras.load(..., runtime="tflite")` in
Python (1 thread, and LiteRT's default). Medians are printed. --threaded also runs the page with ?threads=2
on a site that ships the threaded build. --match: the shipped model's page against
`charkeras.load(shipped, runtime="savedmodel").generate` for seeds 1-10 x temperatures 0.8, 0, 1.0, 0.5 x
top-k 0, 10 (300 characters each). --screenshot PATH: only a screenshot of the shipped model's page
generating (docs/web.png). Chromium is driven by tests/chromium.py.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from chromium import Chromium, find_chromium

import charkeras
from charkeras.machine import cpu_name
from charkeras.web.server import serving_in_background
from charkeras.web.site import build_site

SHIPPED = REPO / "saved_models" / "shakespeare"
PRIME = "ROMEO:"


def page(browser: Chromium, url: str, timeout: float = 300) -> dict:
    browser.open(url)
    browser.wait_until("document.getElementById('output').dataset.done === '1'", timeout=timeout)
    state = browser.js("""(() => ({output: document.getElementById('output').textContent,
        error: document.getElementById('error').hidden ? null : document.getElementById('error').textContent,
        cps: Number(document.getElementById('speed').dataset.charsPerSecond)}))()""")
    if state["error"] or browser.problems():
        raise RuntimeError(f"{url}: {state['error']} {browser.problems()}")
    return state


def python_cps(model, chars: int, seed: int) -> float:
    started = time.perf_counter()
    model.generate(chars, prime=PRIME, temperature=0.8, seed=seed)
    return chars / (time.perf_counter() - started)


def speed(browser: Chromium, name: str, export: Path, site: Path, args, threaded_site: Path | None) -> None:
    lite_1 = charkeras.load(export, runtime="tflite", lite_threads=1)
    lite_default = charkeras.load(export, runtime="tflite")
    lite_default.generate(50, prime=PRIME, seed=0)
    lite_1.generate(50, prime=PRIME, seed=0)
    results = {"page (1 thread)": [], "page (threaded build, 2 threads)": [], "LiteRT Python (1 thread)": [],
               "LiteRT Python (default threads)": []}
    query = {"prime": PRIME, "n": args.chars, "temperature": 0.8, "autorun": 1}
    threaded_server = serving_in_background(threaded_site) if threaded_site else contextlib.nullcontext()
    with serving_in_background(site) as url, threaded_server as t_url:
        for round_ in range(args.rounds):
            seed = round_ + 1
            results["page (1 thread)"].append(page(browser, f"{url}?{urlencode({**query, 'seed': seed})}")["cps"])
            if t_url:
                q = urlencode({**query, "seed": seed, "threads": 2})
                results["page (threaded build, 2 threads)"].append(page(browser, f"{t_url}?{q}")["cps"])
            results["LiteRT Python (1 thread)"].append(python_cps(lite_1, args.chars, seed))
            results["LiteRT Python (default threads)"].append(python_cps(lite_default, args.chars, seed))
    for label, values in results.items():
        if values:
            print(f"{name:6} {label:34} {statistics.median(values):7,.0f} chars/s  "
                  f"(rounds: {', '.join(f'{v:,.0f}' for v in values)})", flush=True)


def match(browser: Chromium, site: Path, n: int = 300) -> None:
    reference = charkeras.load(SHIPPED, runtime="savedmodel")
    same = total = 0
    with serving_in_background(site) as url:
        for temperature in (0.8, 0.0, 1.0, 0.5):
            for top_k in (0, 10):
                for seed in range(1, 11):
                    q = urlencode({"prime": PRIME, "n": n, "temperature": temperature, "top_k": top_k,
                                   "seed": seed, "autorun": 1})
                    got = page(browser, f"{url}?{q}")["output"]
                    want = reference.generate(n, prime=PRIME, temperature=temperature, top_k=top_k, seed=seed)
                    total += 1
                    same += got == want
                    if got != want:
                        first = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
                        print(f"differs: T={temperature} top_k={top_k} seed={seed} at character {first}")
    print(f"page == SavedModel: {same} of {total} continuations of {n} characters", flush=True)


def screenshot(exe: str, site: Path, path: Path) -> None:
    """The page after generating 260 characters, as a small palette PNG."""
    import io

    from PIL import Image

    browser = Chromium(exe, window="1000,900")
    try:
        with serving_in_background(site) as url:
            page(browser, f"{url}?{urlencode({'prime': PRIME, 'n': 260, 'temperature': 0.8, 'seed': 7, 'autorun': 1})}")
            png = browser.screenshot()
    finally:
        browser.close()
    with Image.open(io.BytesIO(png)) as image:
        image.convert("RGB").quantize(64).save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threaded", action="store_true", help="also the threaded build with ?threads=2")
    parser.add_argument("--match", action="store_true", help="only compare texts with the SavedModel")
    parser.add_argument("--screenshot", type=Path, help="only write a screenshot of the shipped model's page")
    args = parser.parse_args()
    exe = find_chromium()
    if exe is None:
        print("error: no Chromium found (install Debian's chromium or set CHARKERAS_CHROMIUM)", file=sys.stderr)
        return 2
    print(f"CPU: {cpu_name()}; headless Chromium ({exe})", flush=True)
    with tempfile.TemporaryDirectory(prefix="charkeras-bench-web-") as tmp:
        tmp = Path(tmp)
        if args.screenshot:
            screenshot(exe, build_site(SHIPPED, tmp / "shipped"), args.screenshot)
            return 0
        browser = Chromium(exe)
        try:
            if args.match:
                match(browser, build_site(SHIPPED, tmp / "shipped"))
                return 0
            from model_factory import export_random_model

            export_random_model(tmp / "export256", units=256, layers=2, embedding_dim=64)
            for name, export in (("2x512", SHIPPED), ("2x256", tmp / "export256")):
                site = build_site(export, tmp / f"site-{name}")
                threaded = build_site(export, tmp / f"threaded-{name}", threaded=True) if args.threaded else None
                speed(browser, name, export, site, args, threaded)
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
