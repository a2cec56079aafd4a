"""Dropout whose masks differ between the replicas of data-parallel training.

keras.layers.Dropout draws its masks from the layer's seed generator, whose state is a variable;
under tf.distribute that variable is mirrored and advances in step on every replica, so all replicas
would draw the same mask for their (different) streams. `ReplicaDropout` folds the global replica id
(0 .. R-1, across workers too) into the drawn seed with `tf.random.experimental.stateless_fold_in`:

    seed of replica r at a step = fold_in(seed generator's next seed, r)

The seed generator starts from `--seed + layer index` and advances once per training step, so a run
is reproducible for a given seed and replica count, and resumes exactly (the generator's state is in
every checkpoint). With one replica the layer is keras.layers.Dropout exactly (same masks as
before), so one-device runs are unchanged; runs on R > 1 replicas draw other masks than one device,
and dropout therefore makes them differ from one-device training (with dropout 0 they do not).
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="charkeras")
class ReplicaDropout(keras.layers.Dropout):
    def call(self, inputs, training=False):
        context = tf.distribute.get_replica_context()
        if not (training and self.rate > 0) or context is None or context.num_replicas_in_sync == 1:
            return super().call(inputs, training=training)
        seed = tf.cast(tf.math.floormod(self.seed_generator.next(), tf.int32.max - 1), tf.int32)
        replica = tf.cast(context.replica_id_in_sync_group, tf.int32)
        seed = tf.random.experimental.stateless_fold_in(seed, replica)
        return tf.nn.experimental.stateless_dropout(inputs, rate=self.rate,
                                                    noise_shape=self.noise_shape, seed=seed)
