"""Callbacks that stop a training run right after a given global step, as a user or the OS would."""

import os
import signal

import keras


class _AtStep(keras.callbacks.Callback):
    def __init__(self, step):
        super().__init__()
        self.at = step

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.at:
            self.stop()

    def stop(self):
        raise NotImplementedError


class SignalAt(_AtStep):
    """Sends this process a real signal (as `kill` or Ctrl-C would); SIGTERM by default."""

    def __init__(self, step, signum=signal.SIGTERM):
        super().__init__(step)
        self.signum = signum

    def stop(self):
        os.kill(os.getpid(), self.signum)


class InterruptAt(_AtStep):
    """Raises KeyboardInterrupt (what Ctrl-C does in Python)."""

    def stop(self):
        raise KeyboardInterrupt
