"""Stop training with a clear message when the loss becomes NaN or explodes."""

from __future__ import annotations

import keras
import numpy as np

from charkeras.errors import TrainingDiverged
from charkeras.train.callbacks.progress import TrainingProgress, current_step


class DivergenceGuard(keras.callbacks.Callback):
    def __init__(self, progress: TrainingProgress):
        super().__init__()
        self.progress = progress

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or (np.isfinite(loss) and loss <= self.progress.config.train.max_loss):
            return
        run = self.progress.run
        what = f"became {loss}" if not np.isfinite(loss) else f"exploded to {loss:.2f}"
        raise TrainingDiverged(
            f"training loss {what} at step {current_step(self.model)}; last good checkpoint: "
            f"{run.latest_checkpoint() or 'none'}; lower --lr or --clipnorm and resume with: "
            f"charkeras fit --resume {run.path}"
        )
