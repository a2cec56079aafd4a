"""`charkeras web` without a browser: the site built for a tiny random export (files, card, the batch-1
static-shape model_web.tflite and its agreement with the SavedModel), LiteRT.js installation through npm,
the server's MIME types and isolation headers, and the command's errors and --serve. Building a site
converts a model with TensorFlow (~15 s with the export it needs), so those tests are marked slow."""

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from model_factory import export_random_model

from charkeras.errors import CharkerasError
from charkeras.web import runtime_files
from charkeras.web.runtime_files import WEB_DIR, ensure_installed, manifest_entries
from charkeras.web.server import make_server, serving_in_background

REPO = Path(__file__).resolve().parents[1]
PAGE = ["app.js", "index.html", "sampler.js", "style.css", "textgen.js"]


def cli(*args):
    from charkeras_cli.main import main

    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("web-export") / "tiny"
    export_random_model(out, units=16, layers=2)
    return out


@pytest.fixture(scope="module")
def site(export_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("web-site") / "site"
    result = cli("web", export_dir, "--out", out)
    assert result.exit_code == 0, result.output
    assert f"site written to {out}" in result.stdout
    assert "model_web.tflite" in result.stderr and "max |logit diff|" in result.stderr
    return out


@pytest.mark.slow
def test_the_site_has_the_page_card_model_and_litert(site, export_dir):
    names = {str(p.relative_to(site)) for p in site.rglob("*") if p.is_file()}
    runtime = {e["to"] for e in manifest_entries(threaded=False)}
    assert names == {*PAGE, "card.json", "model_web.tflite"} | runtime
    assert not any("threaded" in name for name in names)  # only with --threaded
    assert (site / "card.json").read_bytes() == (export_dir / "card.json").read_bytes()
    for name in PAGE:
        assert (site / name).read_bytes() == (WEB_DIR / "static" / name).read_bytes()


@pytest.mark.slow
def test_model_web_is_batch_1_static_shape_and_matches_the_saved_model(site, export_dir):
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(site / "model_web.tflite")).get_signature_runner("step")
    shapes = {name: list(d["shape"]) for name, d in runner.get_input_details().items()}
    signature = {name: list(d["shape_signature"]) for name, d in runner.get_input_details().items()}
    assert shapes == signature == {"char_id": [1], "state": [1, 4, 16]}
    step = tf.saved_model.load(str(export_dir / "1")).signatures["step"]
    lite_state = tf_state = np.zeros([1, 4, 16], np.float32)
    for char_id in [5, 9, 2, 30, 7, 7, 11]:
        lite = runner(char_id=np.array([char_id], np.int32), state=lite_state)
        ref = step(char_id=tf.constant([char_id]), state=tf.constant(tf_state))
        np.testing.assert_allclose(lite["logits"], ref["logits"].numpy(), atol=1e-5)
        lite_state, tf_state = lite["state"], ref["state"].numpy()


@pytest.mark.slow
def test_rebuilding_needs_force_and_a_foreign_directory_is_refused(site, export_dir, tmp_path):
    again = cli("web", export_dir, "--out", site)
    assert again.exit_code == 2 and "--force" in again.stderr and again.stderr.count("\n") == 1
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    refused = cli("web", export_dir, "--out", foreign, "--force")
    assert refused.exit_code == 2 and "not a charkeras web site" in refused.stderr
    assert (foreign / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize(("args", "message"), [
    (["{missing}", "--out", "{tmp}/s"], "model not found"),
    (["{tmp}", "--out", "{tmp}/s"], "neither"),
    (["{card_only}"], "--out DIR is required"),
    (["{card_only}", "--serve", "--port", "70000"], "--port must be from 0 to 65535"),
], ids=["missing", "not-a-model", "no-out", "port"])
def test_bad_input_is_one_error_line_exit_2(tmp_path, args, message):
    values = {"missing": tmp_path / "nowhere", "tmp": tmp_path, "card_only": _card_only(tmp_path)}
    result = cli("web", *[a.format(**values) for a in args])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr


def _card_only(tmp_path) -> Path:
    """A directory that looks like an export to the checks made before anything is built."""
    fake = tmp_path / "card-only"
    fake.mkdir()
    (fake / "card.json").write_text("{}")
    return fake


def test_a_busy_port_is_one_error_line_before_anything_is_built(tmp_path):
    busy = make_server(tmp_path, 0)
    try:
        result = cli("web", _card_only(tmp_path), "--serve", "--port", busy.server_address[1])
    finally:
        busy.server_close()
    assert result.exit_code == 2 and result.stderr.startswith("error: cannot serve on 127.0.0.1:")
    assert result.stderr.count("\n") == 1


def _manifest_copy(tmp_path) -> Path:
    web = tmp_path / "web"
    web.mkdir()
    for name in ("package.json", "package-lock.json", "runtime-files.json"):
        shutil.copyfile(WEB_DIR / name, web / name)
    return web


def _fake_npm(tmp_path, script: str, monkeypatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "npm").write_text(f"#!/bin/sh\n{script}\n")
    (bin_dir / "npm").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


def test_missing_litert_runs_npm_ci_with_the_lock_file(tmp_path, monkeypatch):
    web = _manifest_copy(tmp_path)
    # A stand-in npm that records its arguments and installs from this checkout's node_modules.
    _fake_npm(tmp_path, f'echo "$@" > {tmp_path}/args; /bin/cp -r {WEB_DIR}/node_modules "$3/"', monkeypatch)
    lines = []
    ensure_installed(web_dir=web, log=lines.append)
    assert (tmp_path / "args").read_text().split()[:3] == ["ci", "--prefix", str(web)]
    assert lines == [f"installing LiteRT.js (once): npm ci --prefix {web}"]
    assert runtime_files.missing_files(threaded=True, web_dir=web) == []


@pytest.mark.parametrize(("script", "message"), [
    (None, "npm was not found"),
    ('echo "npm ERR! network request failed" >&2; exit 1', "failed (npm ERR! network request failed)"),
], ids=["no-npm", "npm-fails"])
def test_when_npm_cannot_install_the_error_says_what_to_run(tmp_path, monkeypatch, script, message):
    web = _manifest_copy(tmp_path)
    if script is None:
        monkeypatch.setenv("PATH", str(tmp_path))
    else:
        _fake_npm(tmp_path, script, monkeypatch)
    with pytest.raises(CharkerasError) as error:
        ensure_installed(web_dir=web)
    assert message in str(error.value) and f"npm ci --prefix {web}" in str(error.value)
    assert "\n" not in str(error.value)


def test_the_server_sends_wasm_and_javascript_types_and_isolation_headers(tmp_path):
    for name in ("index.html", "a.js", "b.wasm", "card.json", "m.tflite"):
        (tmp_path / name).write_bytes(b"x")
    got = {}
    with serving_in_background(tmp_path) as url:
        for name in ("", "a.js", "b.wasm", "card.json", "m.tflite"):
            with urllib.request.urlopen(url + name, timeout=10) as response:
                got[name] = response.headers
    assert url.startswith("http://127.0.0.1:")
    types = {name: headers["Content-Type"].split(";")[0] for name, headers in got.items()}
    assert types == {"": "text/html", "a.js": "text/javascript", "b.wasm": "application/wasm",
                     "card.json": "application/json", "m.tflite": "application/octet-stream"}
    for headers in got.values():
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"


@pytest.mark.slow
def test_serve_prints_the_url_serves_the_site_and_stops_on_ctrl_c(site, export_dir, tmp_path):
    """--serve in a real process: build, print the URL, serve; SIGINT (Ctrl-C) ends it cleanly."""
    out = tmp_path / "served"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([sys.executable, "-m", "charkeras_cli.main", "web", str(export_dir), "--out", str(out),
                             "--serve", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=tmp_path)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("serving "):
                break
        url = lines[-1].split(" at ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/"), lines
        with urllib.request.urlopen(url + "card.json", timeout=10) as response:
            assert json.loads(response.read()) == json.loads((export_dir / "card.json").read_text())
        proc.send_signal(signal.SIGINT)
        rest, errors = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 0, errors
    assert "stopped" in rest and "Traceback" not in errors
    assert (out / "model_web.tflite").is_file()  # --out is kept


@pytest.mark.slow
def test_a_training_run_is_exported_to_a_temporary_directory_first(tiny_viz_run, tmp_path):
    before = sorted(p.name for p in tiny_viz_run.iterdir())
    out = tmp_path / "site"
    result = cli("web", tiny_viz_run, "--out", out)
    assert result.exit_code == 0, result.output
    assert f"exporting the training run {tiny_viz_run}" in result.stderr
    card = json.loads((out / "card.json").read_text(encoding="utf-8"))
    vocabulary = json.loads((tiny_viz_run / "vocab.json").read_text(encoding="utf-8"))
    assert card["vocabulary"] == vocabulary.get("tokens", vocabulary)
    assert (out / "model_web.tflite").is_file()
    assert sorted(p.name for p in tiny_viz_run.iterdir()) == before  # the run is left as it was
