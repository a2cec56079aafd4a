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


def test_tfds_text_dataset_is_read_without_network():
    import tensorflow_datasets as tfds

    from charkeras.text.tfds_source import read_tfds_text

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
