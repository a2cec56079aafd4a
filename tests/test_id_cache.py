import fcntl
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from charkeras.errors import CorpusError
from charkeras.text import id_cache as corpus_module
from charkeras.text.id_cache import load_corpus


def test_standard_shakespeare_split(shakespeare_path):
    corpus = load_corpus(shakespeare_path)
    train, val = corpus.split(0.1)
    assert len(corpus) == 1_115_394 and len(corpus.vocab) == 65 + 2
    assert (len(train), len(val)) == (1_003_854, 111_540)
    assert corpus.sha256 == "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
    assert corpus.ids.dtype == np.uint8 and isinstance(corpus.ids, np.memmap)
    assert corpus.vocab.decode(val[:20]) == shakespeare_path.read_text()[1_003_854:1_003_874]


def test_cache_is_reused_for_unchanged_content(tmp_path, monkeypatch):
    path = tmp_path / "a.txt"
    path.write_text("hello world\n" * 50)
    first = load_corpus(path)

    def fail(*_args):
        raise AssertionError("re-encoded although the content did not change")

    monkeypatch.setattr(corpus_module, "_encode_into", fail)
    second = load_corpus(path)
    np.testing.assert_array_equal(first.ids, second.ids)


def test_changed_file_never_reuses_a_stale_cache(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("aaaa bbbb\n" * 20)
    before = load_corpus(path)
    path.write_text("zzzz yyyy\n" * 20)  # same length, different content
    after = load_corpus(path)
    assert before.sha256 != after.sha256
    assert after.vocab.decode(after.ids[:10]) == "zzzz yyyy\n"


def test_damaged_cache_is_rebuilt(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("some text to cache\n" * 10)
    first = np.array(load_corpus(path, cache_dir=tmp_path / "c").ids)  # copy: the file is damaged below
    for entry in (tmp_path / "c").iterdir():
        (entry / "ids.npy").write_bytes(b"garbage")
    again = load_corpus(path, cache_dir=tmp_path / "c")
    np.testing.assert_array_equal(first, again.ids)


def test_utf8_is_read_as_code_points(tmp_path):
    path = tmp_path / "u.txt"
    text = "Grüße, 世界! 🙂\n" * 3
    path.write_text(text, encoding="utf-8")
    corpus = load_corpus(path)
    assert len(corpus) == len(text)
    assert corpus.vocab.decode(corpus.ids) == text


def test_directory_of_files_is_concatenated_in_name_order(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "b.txt").write_text("second\n")
    (tmp_path / "d" / "a.txt").write_text("first")  # no final newline: one is inserted
    (tmp_path / "d" / ".hidden").write_text("never")
    corpus = load_corpus(tmp_path / "d")
    assert corpus.vocab.decode(corpus.ids) == "first\nsecond\n"


def test_other_encodings_with_flag(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("café crème\n".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"not valid utf-8 \(byte 0xe9 at offset 3\).*--encoding"):
        load_corpus(path)
    corpus = load_corpus(path, encoding="latin-1")
    assert corpus.vocab.decode(corpus.ids) == "café crème\n"


@pytest.mark.parametrize("make, message", [
    (lambda p: p, "not found"),
    (lambda p: (p.write_text(""), p)[1], "is empty"),
    (lambda p: (p.mkdir(), p)[1], "holds no files"),
])
def test_unreadable_sources(tmp_path, make, message):
    with pytest.raises(CorpusError, match=message):
        load_corpus(make(tmp_path / "x.txt"))


def test_unknown_encoding_is_a_clear_error(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("abc")
    with pytest.raises(CorpusError, match="unknown --encoding"):
        load_corpus(path, encoding="utf-99")


def test_tfds_text_dataset_is_read_without_network(monkeypatch):
    import tensorflow_datasets as tfds

    from charkeras.text import tfds_source
    from charkeras.text.tfds_source import read_tfds_text

    monkeypatch.setattr(tfds_source, "network_reachable", lambda: True)  # the mocked download needs none
    with tfds.testing.mock_data(num_examples=3):
        text = read_tfds_text("tiny_shakespeare")
        corpus = load_corpus("tfds:tiny_shakespeare")
    assert text.count("\n") >= 2 and len(text) > 3  # three mocked examples joined by newlines
    assert corpus.vocab.decode(corpus.ids) == text
    assert corpus.source == "tfds:tiny_shakespeare"


def test_the_cache_is_built_in_pieces_equal_to_decoding_the_whole_text(tmp_path, monkeypatch):
    """Blocks and chunks far smaller than the text: a character split across two blocks (multi-byte
    UTF-8), files without a final newline and an empty file in a directory all come out as one decode."""
    from charkeras.text import reading

    monkeypatch.setattr(reading, "_BLOCK_BYTES", 7)
    monkeypatch.setattr(corpus_module, "_CHUNK_CHARS", 5)
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "a.txt").write_text("h\u00e9llo w\u00f6rld \U0001F600 caf\u00e9", encoding="utf-8")
    (root / "b.txt").write_text("", encoding="utf-8")
    (root / "c.txt").write_text("\u043f\u0440\u0438\u0432\u0435\u0442\nend", encoding="utf-8")
    expected = "".join(p.read_text(encoding="utf-8") for p in [root / "a.txt"]) + "\n" + "\n" + \
        (root / "c.txt").read_text(encoding="utf-8")
    corpus = load_corpus(root, cache_dir=tmp_path / "cache")
    assert corpus.vocab.decode(np.asarray(corpus.ids)) == expected
    bad = tmp_path / "bad.txt"
    bad.write_bytes("abcdef\u00e9".encode("utf-8") + b"\xff tail")
    with pytest.raises(CorpusError, match=r"byte 0xff at offset 8"):
        load_corpus(bad, cache_dir=tmp_path / "cache")


def _only_entry(cache_dir):
    (entry,) = [e for e in cache_dir.iterdir() if e.is_dir()]
    return entry


def _overwrite_ids(entry, ids):
    """Replace the cached ids by `ids` of the same length and dtype (a valid .npy, a wrong content)."""
    cached = np.load(entry / "ids.npy")
    assert cached.shape == ids.shape
    np.save(entry / "ids.npy", ids.astype(cached.dtype))


@pytest.mark.parametrize("tamper", ["out of range", "in range but wrong"])
def test_a_changed_cache_is_rebuilt_with_one_warning(tmp_path, capsys, tamper):
    path = tmp_path / "a.txt"
    path.write_text("the quick brown fox\n" * 30)
    first = load_corpus(path, cache_dir=tmp_path / "c")
    expected, size = np.array(first.ids), len(first.vocab)
    del first
    bad = np.full_like(expected, 255) if tamper == "out of range" else (expected + 1) % size
    _overwrite_ids(_only_entry(tmp_path / "c"), bad)
    capsys.readouterr()
    again = load_corpus(path, cache_dir=tmp_path / "c")
    np.testing.assert_array_equal(again.ids, expected)
    warnings = capsys.readouterr().err.splitlines()
    assert len(warnings) == 1 and warnings[0].startswith("warning: the corpus cache ")
    assert "ids.npy does not match its checksum" in warnings[0] and "rebuilding it" in warnings[0]
    load_corpus(path, cache_dir=tmp_path / "c")
    assert capsys.readouterr().err == ""  # the rebuilt cache is trusted again


def test_a_changed_vocabulary_file_is_rebuilt(tmp_path, capsys):
    path = tmp_path / "a.txt"
    path.write_text("abcabcabd\n" * 10)
    first = load_corpus(path, cache_dir=tmp_path / "c")
    entry = _only_entry(tmp_path / "c")
    vocab = json.loads((entry / "vocab.json").read_text())
    vocab["tokens"][2:] = vocab["tokens"][:1:-1]  # the same characters in another order
    (entry / "vocab.json").write_text(json.dumps(vocab))
    again = load_corpus(path, cache_dir=tmp_path / "c")
    assert again.vocab.decode(again.ids) == first.vocab.decode(first.ids) == path.read_text()
    assert "vocab.json does not match its checksum" in capsys.readouterr().err


def test_a_killed_builds_temporary_is_removed_at_the_next_build_but_not_a_live_one(tmp_path):
    cache = tmp_path / "c"
    (tmp_path / "old.txt").write_text("old corpus\n" * 10)
    load_corpus(tmp_path / "old.txt", cache_dir=cache)
    entry = _only_entry(cache)
    killed = entry / ".ids.npy.12345.0badf00d.tmp"  # no lock held: its writer is gone
    killed.write_bytes(b"\0" * 4096)
    live = entry / ".ids.npy.99999.feedbeef.tmp"
    with open(live, "wb") as writer:
        fcntl.flock(writer.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a concurrent build holds it
        (tmp_path / "new.txt").write_text("a new corpus\n" * 10)
        load_corpus(tmp_path / "new.txt", cache_dir=cache)
        assert not killed.exists()
        assert live.exists()


def test_a_build_killed_with_sigkill_leaves_nothing_after_the_next_build(tmp_path):
    """A real SIGKILL in the middle of encoding; the next build of any corpus cleans up after it."""
    cache, text = tmp_path / "c", tmp_path / "big.txt"
    text.write_text("x" * 3000 + "\n")
    script = (
        "import os, signal, sys\n"
        "from charkeras.text import id_cache\n"
        "encode = id_cache.Vocabulary.encode\n"
        "def encode_then_die(self, *args):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "id_cache.Vocabulary.encode = encode_then_die\n"
        "id_cache.load_corpus(sys.argv[1], cache_dir=sys.argv[2])\n")
    result = subprocess.run([sys.executable, "-c", script, str(text), str(cache)], check=False, timeout=60)
    assert result.returncode == -signal.SIGKILL
    assert list(cache.glob("*/.ids.npy.*.tmp"))
    (tmp_path / "other.txt").write_text("other\n")
    load_corpus(tmp_path / "other.txt", cache_dir=cache)
    assert not list(cache.glob("*/.ids.npy.*.tmp"))


def test_every_module_tensorflow_datasets_imports_is_a_declared_dependency():
    """tensorflow-datasets 4.9.10 imports importlib_resources but declares it only for old Pythons."""
    import tomllib
    from conftest import REPO

    declared = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    assert any(d.replace("_", "-").startswith("importlib-resources") for d in declared)


def test_an_unknown_tfds_name_is_one_error_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "from charkeras_cli.main import main; main()", "fit", "tfds:doesnotexist",
         "--out", str(tmp_path / "run")], capture_output=True, text=True, check=False, timeout=300, cwd=tmp_path,
        env={**os.environ, "CHARKERAS_CACHE": str(tmp_path / "cache"), "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        ("error: TensorFlow Datasets has no dataset named 'doesnotexist' "
        "(the catalog: https://www.tensorflow.org/datasets/catalog)")]


def test_a_tfds_dataset_not_downloaded_while_offline_is_one_error(tmp_path, monkeypatch):
    from charkeras.text import tfds_source

    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    monkeypatch.setattr(tfds_source, "network_reachable", lambda: False)

    def no_download(*_args, **_kwargs):
        raise AssertionError("tried to download while offline")

    monkeypatch.setattr(tfds_source.tfds.core.DatasetBuilder, "download_and_prepare", no_download)
    with pytest.raises(CorpusError) as raised:
        load_corpus("tfds:tiny_shakespeare", cache_dir=tmp_path / "cache")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("TensorFlow Datasets 'tiny_shakespeare' is not downloaded yet (into ")
    assert message.endswith("and the network is unreachable: connect once, or copy a prepared copy there")
