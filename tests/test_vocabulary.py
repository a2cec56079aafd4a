import numpy as np
import pytest

from charkeras.text.vocabulary import PAD_ID, UNK_ID, Vocabulary


def test_ids_follow_textvectorization_layout_most_frequent_first():
    vocab = Vocabulary.from_text("abbccc")
    assert vocab.tokens == ["", "[UNK]", "c", "b", "a"]
    assert vocab.encode("cab").tolist() == [2, 4, 3]


def test_code_points_not_bytes():
    text = "naïve — 日本語 🙂\n"
    vocab = Vocabulary.from_text(text)
    ids = vocab.encode(text)
    assert len(ids) == len(text)  # one id per code point, although UTF-8 uses up to 4 bytes each
    assert vocab.decode(ids) == text


def test_unknown_characters_map_to_unknown_id():
    vocab = Vocabulary.from_text("abc")
    assert vocab.encode("aZb").tolist() == [vocab.encode("a")[0], UNK_ID, vocab.encode("b")[0]]
    assert vocab.unknown_chars("aZbZQ") == ["Z", "Q"]


def test_numpy_encoding_matches_the_textvectorization_layer():
    text = "To be, or not to be: that is the question.\n‘Tis nobler… 🙂"
    vocab = Vocabulary.from_text(text)
    from charkeras.exporting.signatures import text_vectorization

    layer = text_vectorization(vocab)
    assert layer.get_vocabulary() == vocab.tokens
    probe = text + "Zz"  # includes characters outside the vocabulary
    np.testing.assert_array_equal(np.asarray(layer([probe]))[0], vocab.encode(probe))


def test_json_round_trip(tmp_path):
    vocab = Vocabulary.from_text("hello, wörld\n")
    vocab.save(tmp_path / "v.json")
    assert Vocabulary.load(tmp_path / "v.json") == vocab


def test_decode_rejects_out_of_range_ids():
    vocab = Vocabulary.from_text("ab")
    with pytest.raises(ValueError):
        vocab.decode([PAD_ID, 99])


def test_small_vocabularies_store_ids_in_one_byte():
    assert Vocabulary.from_text("abc").id_dtype == np.uint8
    assert Vocabulary.from_text("".join(chr(0x4E00 + i) for i in range(300))).id_dtype == np.uint16
