"""The `charkeras` command line, installed as the `charkeras_cli` package (from this cli/
folder)."""
