"""Regenerate the documentation's pictures from the shipped model, so they show the product today.

    python tools/screenshots.py                  # all four, into docs/
    python tools/screenshots.py --only web,cells

- docs/viewer.png: `charkeras visualize` on the shipped model (the page's liveliest cell);
- docs/cells.png: `charkeras cells` on the shipped model (the page opened on the best cell found);
- docs/report.png: the `report.html` of a tiny run trained here for a few seconds (the shipped model
  comes without its training run);
- docs/web.png: the `charkeras web` page generating from the shipped model, served by
  `charkeras web MODEL --serve --port 0` on 127.0.0.1 (the page does not load from file://) and
  stopped afterwards.

Every command runs as a user would run it (the installed `charkeras` beside this Python). Headless
Chromium is driven by tests/chromium.py (the browser tests' client), which waits for the web page to
finish generating before the picture is taken. Each PNG is written to a temporary file and renamed.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from chromium import Chromium, find_chromium

# Relative to REPO, where every command runs: the pages show the paths a user types.
SHIPPED = Path("saved_models/shakespeare")
TEXT = Path("data/tinyshakespeare.txt")
DOCS = REPO / "docs"
CHARKERAS = Path(sys.executable).with_name("charkeras")
PICTURES = ("viewer", "cells", "report", "web")
WINDOW = "1280,860"
SERVE_TIMEOUT = 300  # seconds for `charkeras web --serve` to build its site and print the URL
WEB_QUERY = "?prime=ROMEO:&n=600&temperature=0.8&seed=7&autorun=1"


def run(*args: str, cwd: Path = REPO) -> None:
    subprocess.run([str(CHARKERAS), *args], check=True, cwd=cwd, stdout=subprocess.DEVNULL)


def page_picture(browser: Chromium, url: str, ready: str | None = None) -> bytes:
    browser.open(url)
    if ready:
        browser.wait_until(ready, timeout=180)
    time.sleep(0.5)  # let the last paint land
    return browser.screenshot()


def viewer(browser: Chromium, scratch: Path) -> bytes:
    page = scratch / "viz.html"
    # The word-start cell `cells` finds (layer 1, cell 210), so this picture differs from cells.png.
    run("visualize", str(SHIPPED), "--text", str(TEXT), "--out", str(page), "--max-chars", "1500",
        "--layer", "1", "--cell", "210")
    return page_picture(browser, page.as_uri())


def cells(browser: Chromium, scratch: Path) -> bytes:
    page = scratch / "cells.html"
    run("cells", str(SHIPPED), "--text", str(TEXT), "--out", str(page), "--max-chars", "5000",
        "--page-chars", "1500")
    return page_picture(browser, page.as_uri())


def report(browser: Chromium, scratch: Path) -> bytes:
    """A tiny model on the first 20 KB of the corpus, long enough to draw curves and samples,
    trained as `charkeras fit corpus.txt --out runs/tiny ...` in the scratch directory."""
    (scratch / "corpus.txt").write_text((REPO / TEXT).read_text(encoding="utf-8")[:20000],
                                        encoding="utf-8")
    run("fit", "corpus.txt", "--out", "runs/tiny", "--layers", "1", "--units", "32",
        "--batch-size", "8", "--seq-len", "50", "--epochs", "6", "--val-every", "20",
        "--sample-every", "40", "--quiet", "--cache-dir", str(scratch / "cache"), cwd=scratch)
    return page_picture(browser, (scratch / "runs" / "tiny" / "report.html").as_uri())


def web(browser: Chromium, scratch: Path) -> bytes:
    """Serve the shipped model's site on a loopback port, picture a finished generation, stop."""
    server = subprocess.Popen([str(CHARKERAS), "web", str(SHIPPED), "--serve", "--port", "0"],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, start_new_session=True)
    try:
        url = _served_url(server)
        done = "document.getElementById('output').dataset.done === '1'"
        return page_picture(browser, url + WEB_QUERY, done)
    finally:
        os.killpg(server.pid, signal.SIGINT)  # its own session: Ctrl-C, as a user stops it
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _served_url(server: subprocess.Popen) -> str:
    deadline = time.monotonic() + SERVE_TIMEOUT
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if not line:
            break
        found = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
        if found:
            return found.group(1)
    raise RuntimeError("charkeras web --serve printed no URL")


def write_png(name: str, png: bytes) -> Path:
    target = DOCS / f"{name}.png"
    temp = target.with_name(f".{name}.png.tmp")
    temp.write_bytes(png)
    temp.replace(target)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PICTURES),
                        help=f"comma-separated pictures to make (default: {', '.join(PICTURES)})")
    args = parser.parse_args()
    wanted = [name for name in args.only.split(",") if name]
    unknown = sorted(set(wanted) - set(PICTURES))
    if unknown:
        print(f"error: unknown picture(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    exe = find_chromium()
    if exe is None:
        print("error: no Chromium found (install Debian's chromium or set CHARKERAS_CHROMIUM)",
              file=sys.stderr)
        return 2
    makers = {"viewer": viewer, "cells": cells, "report": report, "web": web}
    browser = Chromium(exe, window=WINDOW)
    try:
        with tempfile.TemporaryDirectory(prefix="charkeras-screenshots-") as scratch:
            for name in wanted:
                path = write_png(name, makers[name](browser, Path(scratch)))
                print(f"wrote {path.relative_to(REPO)} ({path.stat().st_size / 1e3:.0f} KB)")
    finally:
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
