import numpy as np
import pytest

from charkeras.data.pipeline import make_dataset
from charkeras.data.streams import StreamLayout, stream_windows
from charkeras.errors import CorpusError


def test_rows_continue_across_batches_and_targets_shift_by_one():
    ids = np.arange(1000, dtype=np.uint16) % 997  # distinct enough to locate every window
    ds, layout = make_dataset(ids, batch_size=4, seq_len=10)
    batches = [(x.numpy(), y.numpy()) for x, y in ds]
    assert layout.stream_len == 249 and layout.batches == 24 and len(batches) == 24
    for k, (x, y) in enumerate(batches):
        assert x.shape == (4, 10) and x.dtype == np.int32
        np.testing.assert_array_equal(y[:, :-1], x[:, 1:])  # target = input shifted by one char
        for j in range(4):  # row j of batch k is stream j, chars [k*T, (k+1)*T)
            start = j * layout.stream_len + k * 10
            np.testing.assert_array_equal(x[j], ids[start:start + 10])
            np.testing.assert_array_equal(y[j], ids[start + 1:start + 11])
        if k:
            prev_y = batches[k - 1][1]
            np.testing.assert_array_equal(prev_y[:, -1], x[:, 0])  # row j of k+1 continues row j of k


def test_ragged_tail_is_dropped_and_nothing_reordered():
    ids = np.arange(103, dtype=np.uint8)
    layout = StreamLayout.for_length(len(ids), batch_size=2, seq_len=8)
    x, _ = stream_windows(ids, layout)
    assert x.shape == (6, 2, 8)  # L = 51 per stream, 6 windows of 8, 3 chars dropped per stream
    np.testing.assert_array_equal(x[:, 0].reshape(-1), ids[:48])
    np.testing.assert_array_equal(x[:, 1].reshape(-1), ids[51:99])


def test_text_shorter_than_one_batch_names_the_largest_workable_sizes():
    with pytest.raises(CorpusError) as err:
        StreamLayout.for_length(500, batch_size=64, seq_len=100)
    message = str(err.value)
    assert "shorter than one batch" in message and "6401" in message
    assert "--batch-size 4 at --seq-len 100" in message and "--seq-len 7 at --batch-size 64" in message
    StreamLayout.for_length(500, batch_size=4, seq_len=100)  # the suggestion works
    StreamLayout.for_length(500, batch_size=64, seq_len=7)
