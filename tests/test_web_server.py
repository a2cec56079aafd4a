"""The site server: quiet when a client hangs up mid-download, and an example URL whose prime comes
from the model's own training text (never a Shakespeare prime for every model)."""

import json
import socket
import struct
import time
import urllib.parse
import urllib.request

from charkeras.web.server import example_query, serving_in_background


def _site(tmp_path, corpus_source, vocabulary):
    site = tmp_path / "site"
    site.mkdir(parents=True)
    card = {"vocabulary": ["", "[UNK]", *vocabulary], "training": {"corpus_source": str(corpus_source)}}
    (site / "card.json").write_text(json.dumps(card), encoding="utf-8")
    return site


def _prime(query):
    return urllib.parse.parse_qs(query.lstrip("?")).get("prime", [None])[0]


def test_the_example_prime_is_the_start_of_the_models_own_corpus(tmp_path):
    corpus = tmp_path / "paper.tex"
    corpus.write_text("\n\\documentclass{article} % a long first line that is cut at a word\nmore\n")
    site = _site(tmp_path, corpus, sorted(set(corpus.read_text())))
    query = example_query(site)
    assert _prime(query) == "\\documentclass{article} % a"
    assert "ROMEO" not in query and query.endswith("&n=300&temperature=0.8&top_k=0&seed=7&autorun=1")


def test_without_the_corpus_the_example_has_no_prime(tmp_path):
    for source in (tmp_path / "moved.txt", "tfds:tiny_shakespeare", ""):
        query = example_query(_site(tmp_path / str(hash(str(source))), source, list("abc")))
        assert _prime(query) is None and query.startswith("?n=300&")


def test_characters_outside_the_vocabulary_are_left_out_of_the_prime(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("ROMEO: hi\n")
    assert _prime(example_query(_site(tmp_path, corpus, list("ROME :")))) == "ROMEO: "


def test_a_client_hanging_up_mid_download_prints_nothing(tmp_path, capfd):
    site = tmp_path / "site"
    site.mkdir()
    (site / "model_web.tflite").write_bytes(b"\0" * (32 << 20))
    with serving_in_background(site) as url:
        port = int(url.rsplit(":", 1)[1].strip("/"))
        for _ in range(3):
            client = socket.create_connection(("127.0.0.1", port), timeout=10)
            client.sendall(b"GET /model_web.tflite HTTP/1.1\r\nHost: x\r\n\r\n")
            client.recv(1024)
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset, not FIN
            client.close()
        time.sleep(1.0)  # the handler threads hit the broken connection
        with urllib.request.urlopen(url + "model_web.tflite", timeout=30) as response:
            assert len(response.read()) == 32 << 20  # still serving
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Error" not in err, err
