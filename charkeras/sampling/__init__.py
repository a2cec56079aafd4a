"""Sampling the next character: one set of rules, in TensorFlow ops and in numpy, drawing the same
numbers.

The rules, in every runtime:
- ids 0 (padding) and 1 (unknown) are never sampled;
- top_k > 0 keeps the ids whose logit is at least the k-th largest (ties stay); 0 keeps all;
- temperature <= 0 is greedy (argmax);
- otherwise the i-th sampled character (i = 0, 1, ...) is argmax(logits / temperature + g), in
  float64, with Gumbel noise g = -log(-log(u + 2^-24)) and u = tf.random.stateless_uniform([B, V],
  seed=stateless_fold_in(seed, i)): the Gumbel-max form of a draw from softmax(logits /
  temperature). Character i's noise depends on i alone, so a longer request extends a shorter one.

Two implementations of these rules sit side by side and draw the same numbers:
- graph_sampler.py (TensorFlow ops): `generate_ids` is the loop of the exported `generate` and of
  the in-memory runtime of a training run;
- numpy_sampler.py (no TensorFlow): `sample_next_numpy` + `gumbel_noise`, and `generate_ids_numpy`,
  the loop of the LiteRT runtime and of the samples printed during training
  (charkeras/model/numpy_step.py); philox.py recomputes TensorFlow's stateless uniform numbers, so a
  seed gives the same text in every runtime (up to the float rounding of the models themselves: the
  .tflite logits differ from the SavedModel's by ~1e-6). The browser runtime ports the same rules to
  JavaScript.
tests/test_sampling.py checks that both halves pick the same ids.
"""
