"""`charkeras web`: a static site that generates text in the browser with LiteRT.js, optionally
served.

The options and the model are checked (and --serve's port bound) before TensorFlow loads, so
mistakes fail at once; building the site converts model_web.tflite, which needs TensorFlow.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
from charkeras_cli.arguments import MODEL_HELP, model_argument

from charkeras.errors import require


@click.command(epilog=MODEL_HELP)
@model_argument
@click.option("--out", default=None, metavar="DIR",
              help="Directory to write the site to (built beside it, then renamed into place). "
                   "With --serve it may be left out: the site goes to a temporary directory.")
@click.option("--serve", is_flag=True,
              help="Serve the site on 127.0.0.1 and print its URL; Ctrl-C stops.")
@click.option("--port", type=int, default=8000, help="Port for --serve; 0 picks a free one.")
@click.option("--threaded", is_flag=True,
              help="Also ship LiteRT.js's threaded WebAssembly build (+9 MB), used with "
                   "?threads=N.")
@click.option("--force", is_flag=True, help="Replace an earlier site in --out.")
def web(model_path, out, serve, port, threaded, force):
    """Write a web page that generates text from MODEL in the browser (LiteRT.js, WebAssembly).

    The same seed gives the same text as `charkeras generate --seed`. URL parameters fill the
    controls: ?prime=ROMEO:&n=300&temperature=0.8&top_k=0&seed=7&autorun=1
    """
    from charkeras.artifact.layout import model_kind
    from charkeras.web.server import example_query, make_server, serve_until_interrupted, url_of

    require(out is not None or serve,
            "--out DIR is required (or --serve, to serve a site built in a temporary directory)")
    require(0 <= port <= 65535, f"--port must be from 0 to 65535 (got {port}); 0 picks a free port")
    model_kind(model_path)  # a missing or unknown directory fails here, before TensorFlow loads
    with tempfile.TemporaryDirectory(prefix="charkeras-web-site-") as tmp:
        site = Path(out) if out is not None else Path(tmp) / "site"
        server = make_server(site, port) if serve else None  # a busy port fails before the build
        try:
            _build(model_path, site, force, threaded)
            if server is None:
                click.echo(f"try: charkeras web {model_path} --out {site} --serve")
                return
            url = url_of(server)
            click.echo(f"serving {site} at {url} (Ctrl-C stops)")
            click.echo(f"open: {url}{example_query(site)}")
            serve_until_interrupted(server)
            click.echo("stopped")
        finally:
            if server is not None:
                server.server_close()


def _build(model_path, site: Path, force: bool, threaded: bool) -> None:
    from charkeras.web.site import build_site, site_size

    build_site(model_path, site, force=force, threaded=threaded,
               log=lambda line: click.echo(line, err=True))
    files, size = site_size(site)
    click.echo(f"site written to {site} ({files} files, {size / 1e6:.1f} MB)")
