"""Interpretable-cell finder: built-in probes of text structure and their correlation with each
cell.

A probe turns a text into one number per character describing the state *after reading* that
character, the same moment a trace records the cell activations (charkeras/inspect/traces.py). A
cell whose activation follows a probe closely (large |Pearson r| over the text) is a candidate
"quote cell", "line-length cell", and so on. Negative r counts as much as positive: a cell that is
-1 inside quotes tracks quotes just as well.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from charkeras.inspect.traces import KIND_LABELS, Trace

_OPEN_BRACKETS = {"(": ")", "[": "]", "{": "}"}
_CLOSE_BRACKETS = set(_OPEN_BRACKETS.values())
# straight quotes, and curly ones as typeset prose uses
_OPEN_QUOTES = {'"': '"', "\u201c": "\u201d"}


def inside_quotes(text: str) -> np.ndarray:
    """1 while inside a double-quoted span (the opening quote included, the closing one not)."""
    out = np.zeros(len(text), np.float32)
    closer = None
    for i, ch in enumerate(text):
        if closer is None and ch in _OPEN_QUOTES:
            closer = _OPEN_QUOTES[ch]
        elif closer is not None and ch == closer:
            closer = None
        out[i] = closer is not None
    return out


def bracket_depth(text: str) -> np.ndarray:
    """Nesting depth of (), [] and {}; a stray closing bracket never takes it below 0."""
    out = np.zeros(len(text), np.float32)
    depth = 0
    for i, ch in enumerate(text):
        if ch in _OPEN_BRACKETS:
            depth += 1
        elif ch in _CLOSE_BRACKETS:
            depth = max(depth - 1, 0)
        out[i] = depth
    return out


def inside_brackets(text: str) -> np.ndarray:
    return (bracket_depth(text) > 0).astype(np.float32)


def line_position(text: str) -> np.ndarray:
    """Characters read since the last newline (0 right after a newline)."""
    out = np.zeros(len(text), np.float32)
    column = 0
    for i, ch in enumerate(text):
        column = 0 if ch == "\n" else column + 1
        out[i] = column
    return out


# A C preprocessor line (#include, #define, ...) is code, not a # comment; written without a space,
# as C code does (a Python or shell comment reads "# include ...").
_DIRECTIVE = re.compile(
    r"#(include|define|undef|if|ifdef|ifndef|elif|else|endif|pragma|error|line|warning)\b")


def inside_comment(text: str) -> np.ndarray:
    """1 inside a /* */ block comment or a // or # line comment.

    A small scanner: comment markers inside a double-quoted string do not count, nor do quotes
    inside a comment. A comment starts once its marker is complete (the second character of "//" and
    "/*") and a line comment ends with its newline."""
    out = np.zeros(len(text), np.float32)
    mode = "code"  # code | string | line | block
    prev = ""
    for i, ch in enumerate(text):
        pair = prev + ch
        if mode == "code":
            if ch == '"':
                mode = "string"
            elif (ch == "#" and not _DIRECTIVE.match(text, i)) or pair == "//":
                mode = "line"
            elif pair == "/*":
                mode, ch = "block", ""  # the '*' of '/*' must not also begin '*/'
        elif mode == "string":
            if ch == '"' and prev != "\\":
                mode = "code"
        elif mode == "line":
            if ch == "\n":
                mode = "code"
        elif pair == "*/":
            mode, ch = "code", ""  # the '/' of '*/' must not also begin '//' or '/*'
        out[i] = mode in ("line", "block")
        prev = ch
    return out


def word_start(text: str) -> np.ndarray:
    """1 on the first character of a word (a letter or digit after a non-word character)."""
    out = np.zeros(len(text), np.float32)
    prev_word = False
    for i, ch in enumerate(text):
        is_word = ch.isalnum() or ch == "_"
        out[i] = is_word and not prev_word
        prev_word = is_word
    return out


def after_newline(text: str) -> np.ndarray:
    """1 right after a newline has been read (on the newline character itself)."""
    return np.fromiter((ch == "\n" for ch in text), np.float32, len(text))


def latex_comment(text: str) -> np.ndarray:
    """1 inside a LaTeX comment: from an unescaped % to the end of its line (the newline not
    included)."""
    out = np.zeros(len(text), np.float32)
    inside, escaped = False, False
    for i, ch in enumerate(text):
        if ch == "\n":
            inside = False
        elif not inside and ch == "%" and not escaped:
            inside = True
        escaped = ch == "\\" and not escaped
        out[i] = inside
    return out


def latex_math(text: str) -> np.ndarray:
    """1 inside $...$ or $$...$$ math (the opening dollar included, the closing one not); \\$ is a
    dollar sign, not math, and a % comment is not scanned."""
    out = np.zeros(len(text), np.float32)
    inside, escaped, comment = False, False, False
    i = 0
    while i < len(text):
        ch = text[i]
        width = 1
        if ch == "\n":
            comment = False
        elif comment:
            pass
        elif ch == "%" and not escaped:
            comment = True
        elif ch == "$" and not escaped:
            width = 2 if text[i + 1:i + 2] == "$" else 1
            inside = not inside
        for j in range(i, min(i + width, len(text))):
            out[j] = inside if ch != "$" or inside else False
        escaped = ch == "\\" and not escaped
        i += width
    return out


def latex_quotes(text: str) -> np.ndarray:
    """1 inside a TeX quotation ``...'' (from the second backquote to before the closing '')."""
    out = np.zeros(len(text), np.float32)
    inside = False
    for i, ch in enumerate(text):
        if not inside and ch == "`" and i > 0 and text[i - 1] == "`":
            inside = True
        elif inside and ch == "'" and text[i + 1:i + 2] == "'":
            inside = False
        out[i] = inside
    return out


def _python_scan(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(inside a string, inside a # comment) for Python source: '...', "...", triple quotes over
    lines, backslash escapes; a # in a string is not a comment, a quote in a comment is not a
    string."""
    string = np.zeros(len(text), np.float32)
    comment = np.zeros(len(text), np.float32)
    quote = None  # the closing delimiter of the string we are in: ', ", ''' or """
    in_comment = False
    i = 0
    while i < len(text):
        ch = text[i]
        if in_comment:
            if ch == "\n":
                in_comment = False
            else:
                comment[i] = 1
            i += 1
        elif quote is None:
            if ch == "#":
                in_comment = True
                comment[i] = 1
                i += 1
            elif ch in "'\"":
                quote = ch * 3 if text[i:i + 3] == ch * 3 else ch
                string[i:i + len(quote)] = 1
                i += len(quote)
            else:
                i += 1
        elif ch == "\\":
            string[i:i + 2] = 1
            i += 2
        elif text.startswith(quote, i):
            i += len(quote)  # the closing quote is outside, like the other probes
            quote = None
        elif ch == "\n" and len(quote) == 1:
            quote = None  # an unterminated one-line string ends with its line
            i += 1
        else:
            string[i] = 1
            i += 1
    return string, comment


def python_string(text: str) -> np.ndarray:
    """1 inside a Python string literal (opening quotes included, closing ones not)."""
    return _python_scan(text)[0]


def python_comment(text: str) -> np.ndarray:
    """1 inside a Python # comment (not a # inside a string), up to its newline."""
    return _python_scan(text)[1]


# A line only Python source has: a def or class header, an import, a decorator, or a block header
# ending in ':'. Prose and LaTeX have apostrophes and quotes but hardly any of these.
_PYTHON_LINE = re.compile(r"^[ \t]*(?:def \w+\(|class \w+|import \w|from [\w.]+ import |@\w|"
                          r"(?:if|elif|else|for|while|with|try|except|finally)\b.*:"
                          r"[ \t]*(?:#.*)?$)", re.MULTILINE)


def looks_like_python(text: str) -> bool:
    """Whether `text` reads as Python source: at least 2 lines, and 3% of its non-blank lines, that
    only Python has (`_PYTHON_LINE`)."""
    hits = len(_PYTHON_LINE.findall(text))
    lines = sum(1 for line in text.splitlines() if line.strip())
    return hits >= 2 and hits >= 0.03 * lines


def _in_python(scan: Callable[[str], np.ndarray]) -> Callable[[str], np.ndarray]:
    """`scan` on Python source, all 0 on other text: an apostrophe in prose or a TeX quotation is
    not a string literal, so on such a text the Python probes are not exercised."""
    def probe(text: str) -> np.ndarray:
        return scan(text) if looks_like_python(text) else np.zeros(len(text), np.float32)

    return probe


PROBES: dict[str, tuple[Callable[[str], np.ndarray], str]] = {
    "quotes": (inside_quotes, "inside double quotes"),
    "brackets": (inside_brackets, "inside (), [] or {}"),
    "bracket_depth": (bracket_depth, "nesting depth of (), [], {}"),
    "line_position": (line_position, "characters since the last newline"),
    "comment": (inside_comment, "inside /* */, // or # comment"),
    "word_start": (word_start, "first character of a word"),
    "newline": (after_newline, "just read a newline"),
    "latex_comment": (latex_comment, "inside a LaTeX % comment"),
    "latex_math": (latex_math, "inside LaTeX $...$ math"),
    "latex_quotes": (latex_quotes, "inside a TeX ``...'' quotation"),
    "python_comment": (_in_python(python_comment), "inside a Python # comment"),
    "python_string": (_in_python(python_string), "inside a Python string literal"),
}


def probe_matrix(text: str, names=None) -> tuple[list[str], np.ndarray]:
    """[N, P] probe values for the named probes (all by default)."""
    names = list(PROBES) if names is None else list(names)
    unknown = [n for n in names if n not in PROBES]
    if unknown:
        raise ValueError(f"unknown probes {unknown}; known: {list(PROBES)}")
    return names, np.stack([PROBES[n][0](text) for n in names], axis=1)


def correlations(activations: np.ndarray, probes: np.ndarray) -> np.ndarray:
    """Pearson r of every activation column [N, C] with every probe column [N, P] -> [C, P].

    A column that never changes has no defined correlation; it gets NaN, so a probe the text does
    not exercise (no quotes at all) can be told apart from one no cell follows (r near 0)."""
    a = _standardize(np.asarray(activations, np.float64))
    p = _standardize(np.asarray(probes, np.float64))
    return (a.T @ p) / len(a)


def _standardize(x: np.ndarray) -> np.ndarray:
    std = x.std(axis=0)
    constant = std < 1e-8 * np.maximum(np.abs(x).max(axis=0), 1.0)
    z = (x - x.mean(axis=0)) / np.where(constant, 1.0, std)
    z[:, constant] = np.nan
    return z


@dataclass(frozen=True)
class CellMatch:
    probe: str
    rank: int  # 1 = best for this probe
    kind: str  # "c" (tanh(c)) or "h"
    layer: int
    unit: int
    r: float  # Pearson correlation; its sign says whether the cell is high or low when the probe is


# Below this many occurrences in the text (quoted spans, lines, ...), a probe's r rests on too few
# events to say what a cell tracks.
FEW_OCCURRENCES = 10


@dataclass(frozen=True)
class Finding:
    """The best cells per probe; `skipped` names probes that do not vary in the text, `rare` those
    it exercises fewer than FEW_OCCURRENCES times (probe -> occurrences)."""

    matches: list[CellMatch]
    skipped: list[str]
    chars: int
    rare: dict[str, int] = field(default_factory=dict)


def occurrences(values: np.ndarray) -> int:
    """How many separate times a probe is on: the runs of characters above its lowest value (quoted
    spans, lines after their newline, words)."""
    on = values > values.min()
    return int(on[0]) + int(np.count_nonzero(on[1:] & ~on[:-1])) if len(on) else 0


def rare_probes_warning(finding: Finding) -> str | None:
    """The warning for `finding.rare` (None when every exercised probe occurs often enough)."""
    if not finding.rare:
        return None
    listed = ", ".join(f"{name} ({count} time{'' if count == 1 else 's'})"
                       for name, count in finding.rare.items())
    return (f"the text exercises these probes fewer than {FEW_OCCURRENCES} times, so their r means "
            f"little: {listed} (give a --text with more of them, or raise --max-chars)")


def find_cells(trace: Trace, kind: str = "c", top: int = 3, probes=None) -> Finding:
    """Rank every cell of every layer by |r| with each probe; keep the `top` per probe."""
    names, values = probe_matrix(trace.text, probes)
    acts = trace.activations(kind)
    n, layers, units = acts.shape
    r = correlations(acts.reshape(n, layers * units), values)
    matches, skipped, rare = [], [], {}
    for j, name in enumerate(names):
        column = r[:, j]
        if np.all(np.isnan(column)):
            skipped.append(name)
            continue
        if occurrences(values[:, j]) < FEW_OCCURRENCES:
            rare[name] = occurrences(values[:, j])
        strength = np.nan_to_num(np.abs(column), nan=-1.0)  # constant cells rank last
        order = np.argsort(-strength, kind="stable")[:top]
        for rank, flat in enumerate(order, start=1):
            layer, unit = divmod(int(flat), units)
            matches.append(
                CellMatch(name, rank, kind, layer, unit, float(np.nan_to_num(column[flat]))))
    return Finding(matches, skipped, n, rare)


def format_table(finding: Finding) -> str:
    """A plain-text table: probe, rank, layer, cell, r."""
    header = ("probe", "what it marks", "rank", "layer", "cell", "signal", "r")
    rows = [(m.probe, PROBES[m.probe][1], str(m.rank), str(m.layer), str(m.unit),
             KIND_LABELS[m.kind], f"{m.r:+.3f}") for m in finding.matches]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
             for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    exercised = list(dict.fromkeys(m.probe for m in finding.matches))
    lines.insert(0, f"probes this text exercises ({len(exercised)} of "
                    f"{len(exercised) + len(finding.skipped)}): "
                    + (", ".join(exercised) or "none"))
    if finding.skipped:
        lines.insert(1, "not exercised (the text has none of it, so no cell can be matched): "
                        + ", ".join(finding.skipped))
    return "\n".join(lines)
