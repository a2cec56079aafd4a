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
    assert "shorter than one batch" in message and "6,401" in message
    assert "--batch-size 4 at --seq-len 100" in message and "--seq-len 7 at --batch-size 64" in message
    StreamLayout.for_length(500, batch_size=4, seq_len=100)  # the suggestion works
    StreamLayout.for_length(500, batch_size=64, seq_len=7)


def test_batches_are_read_from_the_memory_mapped_cache_and_the_graph_stays_small(tmp_path):
    """Nothing corpus-sized goes into the dataset graph: 10x the ids, the same graph size."""
    import tensorflow as tf

    sizes = {}
    for n in (20_000, 200_000):
        np.save(tmp_path / f"ids{n}.npy", (np.arange(n) % 251).astype(np.uint8))
        ids = np.load(tmp_path / f"ids{n}.npy", mmap_mode="r")
        ds, layout = make_dataset(ids, batch_size=8, seq_len=25)
        x_all, y_all = stream_windows(ids, layout)
        got = [(x.numpy(), y.numpy()) for x, y in ds]
        assert len(got) == layout.batches
        for k in (0, 1, layout.batches - 1):
            np.testing.assert_array_equal(got[k][0], x_all[k])
            np.testing.assert_array_equal(got[k][1], y_all[k])
        policy = tf.data.experimental.ExternalStatePolicy.WARN
        sizes[n] = len(ds._as_serialized_graph(external_state_policy=policy).numpy())
    assert max(sizes.values()) < 10_000 and abs(sizes[200_000] - sizes[20_000]) < 64  # only K and L differ


def test_a_block_of_rows_is_that_block_of_the_whole_batch():
    from charkeras.data.pipeline import layout_dataset
    from charkeras.data.streams import batch_windows

    ids = np.arange(3000, dtype=np.uint16)
    layout = StreamLayout.for_length(len(ids), batch_size=6, seq_len=10)
    for k in (0, 7):
        whole_x, whole_y = batch_windows(ids, layout, k)
        part_x, part_y = batch_windows(ids, layout, k, slice(2, 4))
        np.testing.assert_array_equal(part_x, whole_x[2:4])
        np.testing.assert_array_equal(part_y, whole_y[2:4])
    first = next(iter(layout_dataset(ids, layout, slice(3, 6))))
    np.testing.assert_array_equal(first[0].numpy(), batch_windows(ids, layout, 0)[0][3:6])


def test_the_pipeline_prefetches_a_fixed_buffer_without_autotuning():
    # Autotuning's model thread delayed the process's exit by up to 30 s on a loaded machine (the
    # iterator's deletion waits for it), past the end of a --time-budget.
    ids = np.arange(2000) % 50
    ds, _ = make_dataset(ids, batch_size=4, seq_len=10)
    assert ds.options().autotune.enabled is False
    assert len(list(ds)) == (len(ids) - 1) // 4 // 10
