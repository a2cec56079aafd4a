"""Stage 6 of the data flow: an export (or a training run) loaded to generate and score text,
through the SavedModel, LiteRT (no TensorFlow) or a run's checkpoint in memory. `loading.load` is
the entry."""
