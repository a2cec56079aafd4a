"""The cell viewer: one self-contained HTML page (no network) showing a trace.

Each character of the text is coloured by the activation of one chosen cell (a diverging scale,
blue -1, white 0, red +1); under it sit the model's top guesses for the next character, coloured by
probability. Controls pick the signal (tanh(c) or h), the layer and the cell; hovering a character
shows its activation and the probabilities.

Every cell of every layer is in the page, quantized to int8 (steps of 1/127, finer than any colour
difference) and base64-encoded, laid out [signal][layer][unit][position] so choosing a cell reads
one contiguous run. The page builds its character elements with textContent from JSON data, so any
text, `<`, `&` and `</script>` included, shows as itself. A Content-Security-Policy forbids every
network fetch.
"""

from __future__ import annotations

import base64
import html
import json
import unicodedata
from pathlib import Path

import numpy as np

from charkeras.atomic import write_text_atomic
from charkeras.inspect.traces import KIND_LABELS, KINDS, Trace
from charkeras.inspect.viewer_assets import CSS, JS, TEMPLATE

# Characters that would be invisible or break the layout get a visible stand-in.
_STAND_INS = {"\n": "\u21b5", "\t": "\u21e5", "\r": "\u240d", "\x7f": "\u2421", "": "\u2205"}


def visible(ch: str) -> str:
    """How a character (or vocabulary token) is drawn in the viewer."""
    if ch in _STAND_INS:
        return _STAND_INS[ch]
    if len(ch) != 1:
        return ch  # the "[UNK]" token
    if ord(ch) < 0x20:
        return chr(0x2400 + ord(ch))  # the Control Pictures block: U+2400 + code
    category = unicodedata.category(ch)
    if category in ("Zl", "Zp", "Cf", "Cs", "Co", "Cn"):
        return "\u2395"  # zero-width, bidi controls, lone surrogates, unassigned: a box
    if unicodedata.combining(ch):
        return "\u25cc" + ch  # a combining mark alone needs a base to sit on
    return ch


def quantize(values: np.ndarray) -> np.ndarray:
    """[-1, 1] floats -> int8 in [-127, 127]."""
    return np.clip(np.rint(np.asarray(values, np.float32) * 127.0), -127, 127).astype(np.int8)


def most_varied_cell(trace: Trace, kind: str = "c") -> tuple[int, int]:
    """(layer, unit) whose activation changes most over the text: a livelier first view than unit
    0."""
    std = trace.activations(kind).std(axis=0)
    layer, unit = np.unravel_index(int(np.argmax(std)), std.shape)
    return int(layer), int(unit)


def page_data(trace: Trace, title: str, initial=None, highlights=()) -> dict:
    """Everything the page script needs, as JSON-ready values."""
    n = len(trace.ids)
    acts = np.stack([trace.activations(k) for k in KINDS])  # [kind, N, L, U]
    packed = quantize(acts.transpose(0, 2, 3, 1))  # [kind, L, U, N]: one cell is a contiguous run
    if initial is None:
        kind = "c"
        layer, unit = most_varied_cell(trace, kind)
    else:
        kind, layer, unit = initial
    found = [{"label": f"{m.probe} #{m.rank}: layer {m.layer} cell {m.unit} {KIND_LABELS[m.kind]} "
                       f"r={m.r:+.2f}",
              "kind": m.kind, "layer": m.layer, "unit": m.unit} for m in highlights]
    return {
        "title": title,
        "chars": [visible(ch) for ch in trace.text],
        "codes": [ord(ch) for ch in trace.text],
        "tokens": [visible(t) for t in trace.tokens],
        "top_k": int(trace.top_ids.shape[1]),
        "top_ids": trace.top_ids.reshape(-1).tolist(),
        "top_probs": np.round(trace.top_probs.reshape(-1).astype(np.float64), 4).tolist(),
        "next_probs": [None if np.isnan(p) else round(float(p), 4) for p in trace.next_probs],
        "layers": trace.layers, "units": trace.units, "length": n,
        "kinds": list(KINDS), "kind_labels": [KIND_LABELS[k] for k in KINDS],
        "acts": base64.b64encode(packed.tobytes()).decode("ascii"),
        "initial": {"kind": kind, "layer": int(layer), "unit": int(unit)},
        "found": found,
    }


def script_json(data: dict) -> str:
    """JSON that is safe inside a <script> element whatever strings it holds."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page_html(trace: Trace, title: str = "charkeras cell viewer", initial=None,
              highlights=()) -> str:
    """The whole page. `initial` is (kind, layer, unit); `highlights` are probes.CellMatch rows."""
    data = page_data(trace, title, initial, highlights)
    return (TEMPLATE.replace("__TITLE__", html.escape(title))
            .replace("__DATA__", script_json(data))
            .replace("__CSS__", CSS).replace("__JS__", JS))


def write_page(path, trace: Trace, **kwargs) -> Path:
    path = Path(path)
    write_text_atomic(path, page_html(trace, **kwargs))
    return path
