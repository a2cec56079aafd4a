"""The Keras callbacks that make stateful training correct and observable, one job each.

They share one `TrainingProgress` (progress.py) and must run in this order, which `fit` gives them:
    DivergenceGuard   stops with a clear message when the loss turns NaN or explodes
    StreamStates      resets the carried states at every epoch start (restores them, and the epoch's
                      running loss mean, once on a resume mid-epoch)
    Validation        validates at epoch ends and every `val_every` steps, training states set aside;
                      adds val_loss, val_bpc, bpc and lr to the epoch logs
    SamplePrinter     a generated sample every `sample_every` steps and at epoch ends
    EpochLog          log.csv, one row per epoch (after Validation, so it records the logs it adds)
    TensorBoardLog    TensorBoard scalars per epoch, flushed at once
    ReportRefresher   rebuilds report.html and loss.png at every epoch end
    Checkpointer      checkpoints every `checkpoint_every` steps and at epoch ends; best and pruning.
                      After every logger: a checkpoint covers all that is logged up to its step.
    SafePoint         the step's work is done: a Ctrl-C or SIGTERM stops here, with a checkpoint
The user's callbacks come last.
"""
