import numpy as np
import pytest

from charkeras.inspect.ngram import NgramModel, choose_order, ngram_baseline
from charkeras.text.vocabulary import Vocabulary


@pytest.mark.parametrize("order", [1, 2, 4])
def test_probabilities_sum_to_one_in_seen_and_unseen_contexts(order):
    rng = np.random.default_rng(0)
    train = rng.integers(2, 9, size=3000)
    model = NgramModel(order, vocab_size=10).fit(train)
    for history in (list(train[100:100 + order - 1]), [9] * (order - 1)):  # seen, and never seen
        total = sum(np.exp(model.log_probs(np.array([2] + history + [c]))[-1]) for c in range(10))
        assert total == pytest.approx(1.0, abs=1e-9)


def test_learns_a_deterministic_pattern_and_prefers_enough_context():
    pattern = np.array([2, 3, 2, 4] * 500)  # after "2" comes 3 or 4; two chars of context decide which
    order, losses = choose_order(pattern, vocab_size=5, max_order=4)
    assert order >= 3 and losses[3] < 0.05 < losses[2]
    assert NgramModel(3, 5).fit(pattern).nats_per_char(pattern[:100]) < 0.05


def test_shakespeare_baseline_beats_unigram(shakespeare_path):
    text = shakespeare_path.read_text()[:200_000]
    vocab = Vocabulary.from_text(text)
    ids = vocab.encode(text)
    result = ngram_baseline(ids[:180_000], ids[180_000:], len(vocab))
    unigram = NgramModel(1, len(vocab)).fit(ids[:180_000]).nats_per_char(ids[180_000:])
    assert 3 <= result["order"] <= 8
    assert result["nats_per_char"] < unigram - 0.8
