"""Reset the carried LSTM states at every epoch start: each epoch reads the streams from their start."""

from __future__ import annotations

import keras

from charkeras.model.carried_state import reset_states, set_states


class StreamStates(keras.callbacks.Callback):
    def __init__(self, resume_states=None):
        super().__init__()
        # A run resumed mid-epoch continues its streams: the checkpoint's states, once.
        self.resume_states = resume_states

    def on_epoch_begin(self, epoch, logs=None):
        if self.resume_states is not None:
            set_states(self.model, self.resume_states)
            self.resume_states = None
        else:
            reset_states(self.model)
