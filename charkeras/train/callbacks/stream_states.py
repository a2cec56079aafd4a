"""Reset the carried LSTM states at every epoch start: each epoch reads the streams from their
start."""

from __future__ import annotations

import keras

from charkeras.model.carried_state import reset_states, set_states
from charkeras.train.run.checkpoints import assign_metric_state


class StreamStates(keras.callbacks.Callback):
    def __init__(self, resume_states=None, resume_metrics=None):
        super().__init__()
        # A run resumed mid-epoch continues its streams: the checkpoint's states, once. (At an epoch
        # boundary the driver passes none: the new epoch starts from zero states, as it always
        # does.)
        self.resume_states = resume_states
        # ... and the epoch's running loss mean, which Keras has just reset, so the epoch's logged
        # loss is the mean over all its steps, as in an unbroken run.
        self.resume_metrics = resume_metrics

    def on_epoch_begin(self, epoch, logs=None):
        if self.resume_states is not None:
            set_states(self.model, self.resume_states)
            self.resume_states = None
        else:
            reset_states(self.model)
        if self.resume_metrics is not None:
            assign_metric_state(self.model, self.resume_metrics)
            self.resume_metrics = None
