"""The Keras callbacks that make stateful training correct and observable, one job each.

They share one `TrainingProgress` (progress.py) and must run in this order, which `fit` gives them:
    DivergenceGuard   stops with a clear message when the loss turns NaN or explodes
    StreamStates      resets the carried states at every epoch start (restores them once on resume)
    Validation        validates at epoch ends and every `val_every` steps, training states set aside;
                      adds val_loss, val_bpc, bpc and lr to the epoch logs
    SamplePrinter     a generated sample every `sample_every` steps and at epoch ends
    Checkpointer      checkpoints every `checkpoint_every` steps and at epoch ends; best and pruning
    ReportRefresher   rebuilds report.html and loss.png at every epoch end
The CSV and TensorBoard loggers come after them, so they record the logs Validation adds.
"""
