"""`CharModel.step` takes ids in [0, vocabulary size) in every runtime: a negative id raises like one
past the end, instead of indexing the embedding from its end (another character's logits)."""

import numpy as np
import pytest
from conftest import REPO

from charkeras.errors import ConfigError
from charkeras.runtime.loading import load

SHIPPED = REPO / "saved_models" / "shakespeare"


@pytest.fixture(scope="module", params=["tflite", "savedmodel"])
def model(request):
    if request.param == "tflite":
        pytest.importorskip("ai_edge_litert")
    return load(SHIPPED, runtime=request.param)


@pytest.mark.parametrize("bad", [-1, -67, 67, 2**31 - 1])  # the shipped vocabulary has 67 ids
def test_an_id_outside_the_vocabulary_raises(model, bad):
    assert len(model.vocab) == 67
    with pytest.raises(ConfigError, match=rf"^character ids must be in \[0, 67\) \(got {bad}\)$"):
        model.step(np.array([5, bad], np.int32), model.zero_state(2))


def test_every_id_of_the_vocabulary_steps(model):
    ids = np.arange(len(model.vocab), dtype=np.int32)
    logits, state = model.step(ids, model.zero_state(len(ids)))
    assert logits.shape == (len(ids), len(model.vocab)) and np.isfinite(logits).all()
    assert state.shape == (len(ids), 2 * model.layers, model.units)
