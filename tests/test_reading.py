"""Reading user text: a UTF-8 byte order mark is not a character, and a decoding error's advice names
only an option the command has."""

import subprocess
import sys

from conftest import REPO

from charkeras.text.id_cache import load_corpus
from charkeras.text.reading import read_text

BOM = b"\xef\xbb\xbf"


def test_a_utf8_byte_order_mark_is_not_text(tmp_path):
    (tmp_path / "bom.txt").write_bytes(BOM + b"ROMEO: hi\n")
    assert read_text(tmp_path / "bom.txt") == "ROMEO: hi\n"
    corpus = load_corpus(tmp_path / "bom.txt", cache_dir=tmp_path / "cache")
    assert "\ufeff" not in corpus.vocab.decode(corpus.ids) and len(corpus) == len("ROMEO: hi\n")
    assert "\ufeff" not in [corpus.vocab.decode([i]) for i in range(len(corpus.vocab))]


def test_each_file_of_a_directory_loses_its_byte_order_mark_but_not_a_later_one(tmp_path):
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "a.txt").write_bytes(BOM + b"one\n")
    (texts / "b.txt").write_bytes(BOM + b"two \xef\xbb\xbf\n")  # inside the text it is a character
    assert read_text(texts) == "one\ntwo \ufeff\n"


def test_other_encodings_keep_their_byte_order_handling(tmp_path):
    (tmp_path / "u16.txt").write_bytes("hi\n".encode("utf-16"))
    assert read_text(tmp_path / "u16.txt", encoding="utf-16") == "hi\n"


def test_generate_never_suggests_an_encoding_option_it_does_not_have(tmp_path):
    (tmp_path / "prime.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    result = subprocess.run(
        [sys.executable, "-c", "from charkeras_cli.main import main; main()", "generate",
         str(REPO / "saved_models" / "shakespeare"), "--prime-file", str(tmp_path / "prime.txt"),
         "--runtime", "tflite"], capture_output=True, text=True, check=False, timeout=120, cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and "is not valid utf-8 (byte 0xe9 at offset 3)" in line
    assert "--encoding" not in line and line.endswith("it must be UTF-8: convert it, e.g. with iconv -f latin-1 "
                                                       "-t utf-8")
