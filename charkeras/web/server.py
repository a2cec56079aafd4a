"""Serve a built site on 127.0.0.1: the right MIME types (.wasm application/wasm, .js
text/javascript) and the COOP/COEP headers of a cross-origin isolated page, so LiteRT.js's threaded
build can use SharedArrayBuffer. Standard library only; Ctrl-C or SIGTERM stops
`serve_until_interrupted` cleanly."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import signal
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from charkeras.errors import CharkerasError, CorpusError
from charkeras.text.reading import text_files

HOST = "127.0.0.1"
MIME_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
              ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
              ".json": "application/json", ".map": "application/json", ".wasm": "application/wasm",
              ".tflite": "application/octet-stream", ".png": "image/png"}
ISOLATION_HEADERS = {"Cross-Origin-Opener-Policy": "same-origin",
                     "Cross-Origin-Embedder-Policy": "require-corp",
                     "Cross-Origin-Resource-Policy": "same-origin"}


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map: ClassVar[
        dict[str, str]] = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}

    def end_headers(self):
        for name, value in ISOLATION_HEADERS.items():
            self.send_header(name, value)
        self.send_header("Cache-Control", "no-cache")  # a rebuilt site is picked up on reload
        super().end_headers()

    def log_message(self, format, *args):
        pass  # quiet: the command prints the URL, not every request


class SiteServer(http.server.ThreadingHTTPServer):
    daemon_threads = True  # open connections never keep the process alive after Ctrl-C

    def handle_error(self, request, client_address):
        """A client that hangs up mid-download (a reload, a closed tab) is normal, not a
        traceback."""
        # BrokenPipe, ConnectionReset, ...Aborted
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def make_server(site: Path, port: int = 0) -> SiteServer:
    """A server for `site` bound to 127.0.0.1:`port` (0: a free port); not yet serving."""
    handler = functools.partial(SiteHandler, directory=str(Path(site).resolve()))
    try:
        return SiteServer((HOST, port), handler)
    except OSError as exc:
        raise CharkerasError(f"cannot serve on {HOST}:{port} ({exc.strerror or exc}); pass another "
                             "--port (0 picks a free one)") from None


def url_of(server: SiteServer) -> str:
    return f"http://{HOST}:{server.server_address[1]}/"


_PRIME_CHARS = 30  # the example prime: at most this many characters of the corpus's first line


def example_query(site: Path) -> str:
    """The URL parameters to try the site with: a prime from the model's own training text (the
    first line of its corpus, when that file is still here), otherwise none (the page starts from a
    newline)."""
    try:
        card = json.loads((Path(site) / "card.json").read_text(encoding="utf-8"))
        vocabulary = set(card["vocabulary"])
        prime = _first_line(str((card.get("training") or {}).get("corpus_source", "")))
        prime = "".join(ch for ch in prime if ch in vocabulary)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        prime = ""
    query = {"prime": prime} if prime else {}
    query.update(n=300, temperature=0.8, top_k=0, seed=7, autorun=1)
    return "?" + urllib.parse.urlencode(query, safe=":")


def _first_line(source: str) -> str:
    """The first non-blank line of a corpus file or directory, cut at a word to `_PRIME_CHARS`; ""
    if the source is not a readable local path (a tfds: dataset, a moved file)."""
    if not source or not Path(source).exists():
        return ""
    try:
        with open(text_files(Path(source))[0], encoding="utf-8-sig", errors="replace") as f:
            head = f.read(4096)
    except (OSError, CorpusError):
        return ""
    line = next((line.strip() for line in head.splitlines() if line.strip()), "")
    if len(line) > _PRIME_CHARS:
        cut = line[:_PRIME_CHARS]
        line = cut[:cut.rfind(" ")] if " " in cut else cut
    return line


def serve_until_interrupted(server: SiteServer) -> None:
    """Serve until Ctrl-C or SIGTERM, then close the socket.

    The server runs in a thread and the main thread only waits for the signal, so the stop never
    depends on where in the request loop a KeyboardInterrupt would land.
    """
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        while not stop.wait(0.2):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextlib.contextmanager
def serving_in_background(site: Path, port: int = 0) -> Iterator[str]:
    """Serve `site` from a thread while the block runs (tests, benchmarks); yields the URL."""
    server = make_server(site, port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url_of(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
