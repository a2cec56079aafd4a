"""The contract's SavedModel signatures as `tf.function`s (see DESIGN.md, "Export contract").

`signature_functions` is what an export saves and also what the runtime of a training run executes
in memory (charkeras/runtime/signature_model.py), so a run and its export run the same graph.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from charkeras.model.step_functions import inference_model_step_fn, written_out_step_fn
from charkeras.sampling.graph_sampler import generate_ids
from charkeras.text.vocabulary import Vocabulary


def text_vectorization(vocab: Vocabulary):
    """The Keras layer that maps a string to ids with `vocab` (character split, no standardize).

    The vocabulary goes in as an object array: Keras turns a list into a fixed-width numpy string
    array, which drops trailing NUL characters, so a corpus character "\x00" became "" (the padding
    token) and the layer refused the vocabulary ("Found reserved mask token"). An object array keeps
    every character as it is.
    """
    return keras.layers.TextVectorization(
        standardize=None, split="character", vocabulary=np.array(vocab.chars, dtype=object),
        output_mode="int", name="vectorize"
    )


def signature_functions(inference_model, vocab: Vocabulary, layers: int, units: int) -> dict:
    """The contract's four signatures as `tf.function`s with named inputs; each returns a dict.

    Returns {"generate", "step", "score", "vocabulary", "vectorize"}: the last is the lookup layer
    the functions use, which an export must track.
    """
    vectorize = text_vectorization(vocab)
    vectorize(tf.constant(["a"]))  # creates the lookup table so it can be tracked and saved
    tokens = tf.constant(vocab.tokens)
    first = vocab.start_id
    state_shape = [2 * layers, units]

    # `step` runs the Keras inference model; the loops run its written-out twin.
    step_fn = inference_model_step_fn(inference_model)

    def text_ids(text):
        """[1, n] ids of a scalar string (unknown characters -> 1)."""
        return tf.cast(vectorize(tf.reshape(text, [1])), tf.int32)

    @tf.function(input_signature=[
        tf.TensorSpec([], tf.string, name="prompt"),
        tf.TensorSpec([], tf.int32, name="num_chars"),
        tf.TensorSpec([], tf.float32, name="temperature"),
        tf.TensorSpec([], tf.int32, name="top_k"),
        tf.TensorSpec([2], tf.int32, name="seed"),
    ])
    def generate(prompt, num_chars, temperature, top_k, seed):
        ids = text_ids(prompt)
        prime = tf.cond(tf.shape(ids)[1] > 0, lambda: ids, lambda: tf.fill([1, 1], first))
        state = tf.zeros([1, *state_shape])
        out = generate_ids(written_out_step_fn(inference_model, layers), prime, state,
                           tf.maximum(num_chars, 0), temperature, top_k, seed)
        return {"text": tf.strings.reduce_join(tf.gather(tokens, out[0]))}

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.int32, name="char_id"),
        tf.TensorSpec([None, *state_shape], tf.float32, name="state"),
    ])
    def step(char_id, state):
        logits, new_state = step_fn(char_id, state)
        return {"logits": logits, "state": new_state}

    @tf.function(input_signature=[tf.TensorSpec([], tf.string, name="text")])
    def score(text):
        ids = text_ids(text)
        nll, count = score_ids(written_out_step_fn(inference_model, layers), ids,
                               tf.zeros([1, *state_shape]))
        return {"nll": nll[0], "count": count}

    @tf.function(input_signature=[])
    def vocabulary():
        return {"vocabulary": tokens}

    return {"generate": generate, "step": step, "score": score, "vocabulary": vocabulary,
            "vectorize": vectorize}


def score_ids(step_fn, ids, state):
    """Sum over i >= 1 of -ln p(ids[:, i] | ids[:, :i]) per row, and the count n - 1 (0 for n < 2).

    Accumulates in float64 so a long text's sum does not lose the small terms.
    """
    n = tf.shape(ids)[1]
    state = tf.convert_to_tensor(state)

    def body(i, state, total):
        logits, state = step_fn(ids[:, i - 1], state)
        log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float64))
        total -= tf.gather(log_probs, ids[:, i], batch_dims=1)
        return i + 1, tf.ensure_shape(state, state_in_shape), total

    state_in_shape = state.shape
    _, _, total = tf.while_loop(
        lambda i, *_: i < n, body,
        (tf.constant(1), state, tf.zeros([tf.shape(ids)[0]], tf.float64)))
    return tf.cast(total, tf.float32), tf.maximum(n - 1, 0)
