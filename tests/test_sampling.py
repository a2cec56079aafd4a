"""The numpy half of the sampler draws exactly what the TensorFlow half draws."""

import numpy as np
import pytest

from charkeras.sampling import philox
from charkeras.sampling.graph_sampler import sample_next
from charkeras.sampling.numpy_sampler import gumbel_noise, sample_next_numpy

tf = pytest.importorskip("tensorflow")

SEEDS = [(1, 2), (0, 0), (-1, 7), (2**31 - 1, -(2**31)), (123456, -98765)]


@pytest.mark.parametrize("seed", SEEDS)
def test_philox_uniform_and_fold_in_equal_tensorflow(seed):
    for shape in ([1], [5], [65], [3, 65]):
        expected = tf.random.stateless_uniform(shape, seed=tf.constant(seed, tf.int32)).numpy().reshape(-1)
        got = philox.stateless_uniform(np.array([seed]), int(np.prod(shape)))[0]
        assert got.dtype == np.float32 and np.array_equal(got, expected), shape
    steps = np.array([0, 1, 17, 2**31 - 1], np.int32)
    expected = np.stack([tf.random.experimental.stateless_fold_in(tf.constant(seed, tf.int32), int(i)).numpy()
                         for i in steps])
    assert np.array_equal(philox.stateless_fold_in(seed, steps), expected)


def test_many_seeds_in_one_call_equal_one_call_per_seed():
    seeds = np.array(SEEDS, np.int32)
    together = philox.stateless_uniform(seeds, 70)
    for row, seed in zip(together, seeds):
        assert np.array_equal(row, philox.stateless_uniform(seed[None], 70)[0])


@pytest.mark.parametrize("temperature, top_k", [(1.0, 0), (0.5, 0), (1.7, 5), (0.8, 1), (0.0, 0), (1e-7, 0)])
def test_numpy_sampler_draws_what_the_tensorflow_sampler_draws(temperature, top_k):
    rng = np.random.default_rng(0)
    batch, vocab, steps = 3, 40, 50
    logits = rng.normal(scale=3.0, size=(steps, batch, vocab)).astype(np.float32)
    noise = gumbel_noise((42, 0), 0, steps, batch, vocab)
    tf_sample = tf.function(lambda logits, i: sample_next(
        logits, tf.constant(temperature, tf.float32), tf.constant(top_k), tf.random.experimental.stateless_fold_in(
            tf.constant([42, 0]), i)))
    drawn_tf = np.stack([tf_sample(tf.constant(logits[i]), tf.constant(i)).numpy() for i in range(steps)])
    drawn_np = np.stack([sample_next_numpy(logits[i], temperature, top_k, noise[i]) for i in range(steps)])
    np.testing.assert_array_equal(drawn_np, drawn_tf)
    if temperature >= 0.5 and top_k != 1:
        assert len(np.unique(drawn_np)) > 10  # a real draw, not a disguised argmax


def test_noise_of_a_later_block_is_the_noise_of_those_characters():
    whole = gumbel_noise((5, 0), 0, 100, 2, 30)
    np.testing.assert_array_equal(gumbel_noise((5, 0), 64, 36, 2, 30), whole[64:])
    assert np.isfinite(whole).all()


def test_numpy_sampler_never_draws_padding_or_unknown_and_respects_top_k():
    logits = np.tile(np.array([[50.0, 50.0, 1.0, 2.0, 3.0, 0.5]], np.float32), (400, 1))
    noise = gumbel_noise((0, 0), 0, 1, 400, 6)[0]
    drawn = sample_next_numpy(logits, 1.0, 0, noise)
    assert set(drawn) == {2, 3, 4, 5}
    assert set(sample_next_numpy(logits, 1.0, 2, noise)) == {3, 4}
    assert set(sample_next_numpy(logits, 0.0, 0, None)) == {4}
