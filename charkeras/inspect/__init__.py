"""Stage 7: looking at a loaded model. Traces of its cells, interpretable-cell probes, the cell
viewer page, evaluation (nats/char against an n-gram baseline) and `info`'s description of a model
directory."""
