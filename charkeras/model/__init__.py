"""Stage 3 of the data flow: the networks (training and one-step inference), the fused CPU LSTM
layer, the carried states, and the step functions the in-graph loops run."""
