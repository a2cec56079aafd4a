"""Stage 2 of the data flow: ids -> the stream layout of stateful training -> tf.data batches."""
