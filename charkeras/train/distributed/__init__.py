"""Data-parallel training: this process's role in a multi-worker job read from TF_CONFIG
(`cluster`), the bounded start-up wait for the other workers (`rendezvous`), the `--strategy` choice
and the per-fit job state (`strategy`), and the custom training loop on R replicas (`loop`)."""
