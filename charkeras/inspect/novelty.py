"""`generate --novel-against FILE`: keep only the generated lines that do not occur in FILE
(char-rnn's baby-names demo showed only the ~90% of names that were new). No TensorFlow."""

from __future__ import annotations


def known_lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if line.strip()}


def novel_lines(prime: str, generated: str, known: set[str]) -> tuple[list[str], int]:
    """(the generated lines not in `known`, how many generated lines there were).

    A line is compared whole and stripped: the first generated line includes the end of the prime's
    last line; the last line is left out when generation stopped in the middle of it; empty lines
    are not counted.
    """
    lines = (prime + generated).split("\n")[prime.count("\n"):]
    if not generated.endswith("\n"):
        lines = lines[:-1]  # cut off by --n
    candidates = [line for line in lines if line.strip()]
    return [line for line in candidates if line.strip() not in known], len(candidates)
