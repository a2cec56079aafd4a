"""Stage 4 of the data flow: training. The fit driver, its callbacks (one job each), the run
directory, checkpoints that resume exactly, and the training report."""
