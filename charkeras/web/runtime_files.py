"""The LiteRT.js files a site needs, from the npm package pinned in package.json /
package-lock.json.

`runtime-files.json` lists them (node_modules/<from> -> <site>/<to>). When node_modules lacks one,
this runs `npm ci --prefix <this directory>` (the lock file's exact versions) once; when that cannot
run or fails, the error says what to run. No TensorFlow here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from charkeras.errors import CharkerasError

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"  # the page: index.html, style.css, app.js, sampler.js, textgen.js
MANIFEST = WEB_DIR / "runtime-files.json"
NPM_TIMEOUT_S = 600


def manifest_entries(threaded: bool, web_dir: Path = WEB_DIR) -> list[dict]:
    """The manifest's files; the threaded WebAssembly build only when `threaded`."""
    files = json.loads((web_dir / MANIFEST.name).read_text(encoding="utf-8"))["files"]
    return [f for f in files if threaded or not f.get("threaded")]


def missing_files(threaded: bool, web_dir: Path = WEB_DIR) -> list[str]:
    return [f["from"] for f in manifest_entries(threaded, web_dir)
            if not f.get("optional") and not (web_dir / "node_modules" / f["from"]).is_file()]


def ensure_installed(threaded: bool = False, web_dir: Path = WEB_DIR,
                     log: Callable[[str], None] | None = None) -> None:
    """Install the pinned LiteRT.js with `npm ci` when a needed file is missing; raise
    CharkerasError if it fails."""
    if not missing_files(threaded, web_dir):
        return
    command = f"npm ci --prefix {web_dir}"
    npm = shutil.which("npm")
    if npm is None:
        raise CharkerasError("LiteRT.js is not installed and npm was not found: install Node.js "
                             f"and run `{command}`")
    if log:
        log(f"installing LiteRT.js (once): {command}")
    try:
        result = subprocess.run([npm, "ci", "--prefix", str(web_dir), "--no-audit", "--no-fund"],
                                capture_output=True, text=True, timeout=NPM_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CharkerasError(
            f"`{command}` did not complete ({exc}); run it yourself and retry") from None
    still_missing = missing_files(threaded, web_dir)
    if result.returncode != 0 or still_missing:
        lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        why = lines[-1].strip() if lines else f"{len(still_missing)} files still missing"
        raise CharkerasError(
            f"`{command}` failed ({why}); run it yourself (it needs the npm registry) and retry")


def copy_runtime(site: Path, threaded: bool = False, web_dir: Path = WEB_DIR) -> list[str]:
    """Copy the runtime files into `site`; returns their site paths."""
    written = []
    for entry in manifest_entries(threaded, web_dir):
        source = web_dir / "node_modules" / entry["from"]
        # ensure_installed has run: only optional files (.map) can be missing
        if not source.is_file():
            continue
        target = site / entry["to"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        written.append(entry["to"])
    return written


def copy_static(site: Path) -> list[str]:
    """Copy the page (index.html, its JavaScript and CSS) into `site`; returns the file names."""
    names = sorted(p.name for p in STATIC_DIR.iterdir() if p.is_file())
    for name in names:
        shutil.copyfile(STATIC_DIR / name, site / name)
    return names
