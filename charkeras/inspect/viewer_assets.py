"""The cell viewer page's HTML, CSS and JavaScript (filled in by charkeras/inspect/viewer.py)."""

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline';
               img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>__TITLE__</title>
<style>__CSS__</style>
</head>
<body>
<header>
  <h1>__TITLE__</h1>
  <div id="controls">
    <label>signal <select id="kind"></select></label>
    <label>layer <select id="layer"></select></label>
    <label>cell <input id="unit" type="number" min="0" step="1"></label>
    <button id="prev" type="button" title="previous cell (left arrow)">&larr;</button>
    <input id="unit-range" type="range" min="0" step="1" aria-label="cell">
    <button id="next" type="button" title="next cell (right arrow)">&rarr;</button>
    <label id="found-label">found cells <select id="found"></select></label>
    <label><input id="show-guesses" type="checkbox" checked> top guesses</label>
  </div>
  <div id="legend">
    <span>activation</span><span class="bar act-bar"></span><span
      class="ticks">-1 &nbsp; 0 &nbsp; +1</span>
    <span>guess probability</span><span class="bar prob-bar"></span><span
      class="ticks">0 &nbsp; 1</span>
    <span id="status"></span>
  </div>
</header>
<main id="text" aria-label="text coloured by cell activation"></main>
<div id="tip" hidden></div>
<script type="application/json" id="data">__DATA__</script>
<script>__JS__</script>
</body>
</html>
"""

CSS = """
body { font-family: system-ui, sans-serif; margin: 0; color: #222; background: #fff; }
header { position: sticky; top: 0; background: #f7f7f7; border-bottom: 1px solid #ccc;
         padding: 6px 12px; z-index: 2; }
h1 { font-size: 16px; margin: 0 0 6px 0; }
#controls, #legend { display: flex; flex-wrap: wrap; gap: 10px; align-items: center;
                     font-size: 13px; }
#legend { margin-top: 6px; }
#unit { width: 5em; }
#unit-range { width: 180px; }
.bar { display: inline-block; width: 120px; height: 12px; border: 1px solid #aaa; }
.act-bar { background: linear-gradient(to right, rgb(33,102,172), #fff, rgb(178,24,43)); }
.prob-bar { background: linear-gradient(to right, #fff, rgb(0,109,44)); }
.ticks { color: #666; }
#status { margin-left: auto; color: #444; }
#text { display: flex; flex-wrap: wrap; align-items: flex-start; padding: 12px; row-gap: 4px;
        font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 15px; }
.col { display: inline-flex; flex-direction: column; align-items: stretch; }
.ch { white-space: pre; text-align: center; min-width: 0.6em; padding: 1px 0; cursor: default; }
.ch.sel { outline: 2px solid #000; }
.g { display: flex; flex-direction: column; font-size: 10px; line-height: 12px; }
.g span { white-space: pre; text-align: center; }
.no-guesses .g { display: none; }
.br { flex-basis: 100%; height: 0; }
#tip { position: fixed; z-index: 3; background: #fff; border: 1px solid #888; padding: 6px 8px;
       font-size: 12px; box-shadow: 0 2px 6px rgba(0,0,0,.2); pointer-events: none;
       white-space: pre;
       font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; }
"""

JS = r"""
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const N = D.length, L = D.layers, U = D.units, K = D.top_k;
const bytes = Uint8Array.from(atob(D.acts), c => c.charCodeAt(0));
const ACTS = new Int8Array(bytes.buffer);
const $ = id => document.getElementById(id);
const sel = {kind: D.initial.kind, layer: D.initial.layer, unit: D.initial.unit};
const chars = [];

function actColor(v) {  // diverging: -1 blue, 0 white, +1 red
  const a = Math.min(Math.abs(v), 1), end = v < 0 ? [33, 102, 172] : [178, 24, 43];
  const c = end.map(e => Math.round(255 + (e - 255) * a));
  return "rgb(" + c.join(",") + ")";
}
function probColor(p) {  // sequential: white to dark green
  const end = [0, 109, 44];
  return "rgb(" + end.map(e => Math.round(255 + (e - 255) * p)).join(",") + ")";
}
function offset() {
  return ((D.kinds.indexOf(sel.kind) * L + sel.layer) * U + sel.unit) * N;
}
function activation(i) { return ACTS[offset() + i] / 127; }

function build() {
  const box = $("text"), frag = document.createDocumentFragment();
  for (let i = 0; i < N; i++) {
    const col = document.createElement("span");
    col.className = "col";
    const ch = document.createElement("span");
    ch.className = "ch";
    ch.dataset.i = i;
    ch.textContent = D.chars[i];
    col.appendChild(ch);
    const g = document.createElement("span");
    g.className = "g";
    for (let j = 0; j < K; j++) {
      const s = document.createElement("span"), p = D.top_probs[i * K + j];
      s.textContent = D.tokens[D.top_ids[i * K + j]];
      s.style.background = probColor(p);
      s.style.color = p > 0.55 ? "#fff" : "#222";
      g.appendChild(s);
    }
    col.appendChild(g);
    frag.appendChild(col);
    chars.push(ch);
    if (D.codes[i] === 10) {
      const br = document.createElement("span");
      br.className = "br";
      frag.appendChild(br);
    }
  }
  box.appendChild(frag);
}

function paint() {
  const base = offset();
  for (let i = 0; i < N; i++) {
    const v = ACTS[base + i] / 127;
    chars[i].style.background = actColor(v);
    chars[i].style.color = Math.abs(v) > 0.6 ? "#fff" : "#111";
  }
  $("kind").value = sel.kind;
  $("layer").value = String(sel.layer);
  $("unit").value = String(sel.unit);
  $("unit-range").value = String(sel.unit);
  const found = D.found.findIndex(
    f => f.kind === sel.kind && f.layer === sel.layer && f.unit === sel.unit);
  $("found").value = found < 0 ? "" : String(found);
  const label = D.kind_labels[D.kinds.indexOf(sel.kind)];
  $("status").textContent = "layer " + sel.layer + ", cell " + sel.unit + ", " + label +
    " \u2014 " + N + " characters";
  history.replaceState(null, "", "#" + sel.kind + "/" + sel.layer + "/" + sel.unit);
}

function choose(kind, layer, unit) {
  sel.kind = D.kinds.includes(kind) ? kind : sel.kind;
  sel.layer = Math.max(0, Math.min(L - 1, layer | 0));
  sel.unit = ((unit | 0) % U + U) % U;
  paint();
}

function fmtPct(p) { return (100 * p).toFixed(1).padStart(5) + "%"; }

function showTip(ev) {
  const t = ev.target;
  if (!t.classList || !t.classList.contains("ch")) return;
  const i = +t.dataset.i, tip = $("tip");
  const code = "U+" + D.codes[i].toString(16).toUpperCase().padStart(4, "0");
  const label = D.kind_labels[D.kinds.indexOf(sel.kind)];
  const lines = ["char " + i + "  '" + D.chars[i] + "'  " + code,
    "layer " + sel.layer + " cell " + sel.unit + " " + label + " = " + activation(i).toFixed(3),
    "next-character guesses:"];
  for (let j = 0; j < K; j++) {
    lines.push("  '" + D.tokens[D.top_ids[i * K + j]] + "'  " + fmtPct(D.top_probs[i * K + j]));
  }
  if (D.next_probs[i] !== null) {
    lines.push("actual next '" + D.chars[i + 1] + "'  " + fmtPct(D.next_probs[i]));
  }
  tip.textContent = lines.join("\n");
  tip.hidden = false;
  const x = Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 4);
  const y = ev.clientY + 18 + tip.offsetHeight > window.innerHeight
    ? ev.clientY - tip.offsetHeight - 8 : ev.clientY + 18;
  tip.style.left = Math.max(0, x) + "px";
  tip.style.top = Math.max(0, y) + "px";
}

function setup() {
  D.kinds.forEach((k, j) => $("kind").add(new Option(D.kind_labels[j], k)));
  for (let l = 0; l < L; l++) $("layer").add(new Option(String(l), String(l)));
  $("unit").max = $("unit-range").max = String(U - 1);
  if (D.found.length) {
    $("found").add(new Option("\u2014 choose \u2014", ""));
    D.found.forEach((f, j) => $("found").add(new Option(f.label, String(j))));
  } else {
    $("found-label").hidden = true;
  }
  $("kind").addEventListener("change", e => choose(e.target.value, sel.layer, sel.unit));
  $("layer").addEventListener("change", e => choose(sel.kind, +e.target.value, sel.unit));
  $("unit").addEventListener("change", e => choose(sel.kind, sel.layer, +e.target.value));
  $("unit-range").addEventListener("input", e => choose(sel.kind, sel.layer, +e.target.value));
  $("prev").addEventListener("click", () => choose(sel.kind, sel.layer, sel.unit - 1));
  $("next").addEventListener("click", () => choose(sel.kind, sel.layer, sel.unit + 1));
  $("found").addEventListener("change", e => {
    const f = D.found[+e.target.value];
    if (f) choose(f.kind, f.layer, f.unit);
  });
  $("show-guesses").addEventListener(
    "change", e => $("text").classList.toggle("no-guesses", !e.target.checked));
  document.addEventListener("keydown", e => {
    if (e.target.tagName === "INPUT" || e.target.tagName === "SELECT") return;
    if (e.key === "ArrowRight") choose(sel.kind, sel.layer, sel.unit + 1);
    if (e.key === "ArrowLeft") choose(sel.kind, sel.layer, sel.unit - 1);
  });
  $("text").addEventListener("mouseover", showTip);
  $("text").addEventListener("mousemove", showTip);
  $("text").addEventListener("mouseleave", () => { $("tip").hidden = true; });
  const m = /^#([a-z]+)\/(\d+)\/(\d+)$/.exec(location.hash);
  if (m) { sel.kind = m[1]; sel.layer = +m[2]; sel.unit = +m[3]; }
}

setup();
build();
choose(sel.kind, sel.layer, sel.unit);
"""
