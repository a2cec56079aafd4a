"""The Keras callbacks that make stateful training correct and observable, one job each.

They share one `progress.TrainingProgress`. The order they must run in is stated once, next to the
list that gives it to Keras: `driver.Trainer.assemble`.
"""
