"""The run directory, one concept: its file names (`names`), the marker and `--force` (`directory`),
the lock (`lock`), the schemas of its JSON files (`schemas`), its logs and their rewind on resume
(`logs`, `tensorboard`), checkpoints (`checkpoints`), continuing a run (`resuming`), reading a
checkpoint into an inference model (`loading`), and the report built from its files (`report`,
`report_curves`). The training callbacks write into it through these modules.
"""
