// The page: loads card.json and model_web.tflite with LiteRT.js (WebAssembly, CPU), then generates text
// character by character with the sampler every charkeras runtime uses (sampler.js), so that a seed gives the
// same continuation here as `charkeras generate --seed`.
//
// URL parameters fill the controls: ?prime=ROMEO:&n=300&temperature=0.8&top_k=0&seed=7&autorun=1
// (and threads=N: the threaded WebAssembly build with N threads, on a cross-origin isolated page only). The continuation goes into #output, which
// gets data-done="1" when generation ends; #speed carries data-chars-per-second. Text is only ever set with
// textContent, never parsed as HTML.

import { Tensor, loadAndCompile, loadLiteRt } from "@litertjs/core";

import { Vocabulary, cardStartId, generateIds, primeIds } from "./textgen.js";

const CARD_URL = "card.json";
const MODEL_URL = "model_web.tflite";
const WASM_DIR = "litert/wasm/";
const YIELD_EVERY_MS = 25; // hand the event loop back this often, so the text and the Stop button stay live
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

const $ = (id) => document.getElementById(id);
const ui = {
  form: $("controls"), prime: $("prime"), n: $("n"), temperature: $("temperature"), topK: $("top_k"),
  seed: $("seed"), generate: $("generate"), stop: $("stop"), error: $("error"), notice: $("notice"),
  primeEcho: $("prime-echo"), output: $("output"), status: $("status"), speed: $("speed"),
  modelInfo: $("model-info"),
};

let session = null; // {card, vocab, startId, runner, layers, units}
let running = null; // {stopped: boolean}

function showError(message, error) {
  ui.error.textContent = message;
  ui.error.hidden = false;
  console.error(message, ...(error ? [error] : []));
}

function clearMessages() {
  ui.error.hidden = true;
  ui.error.textContent = "";
  ui.notice.hidden = true;
  ui.notice.textContent = "";
}

// A macrotask yield that is not clamped like nested setTimeout(0).
const channel = new MessageChannel();
const waiting = [];
channel.port1.onmessage = () => waiting.shift()?.();
function yieldToEventLoop() {
  return new Promise((resolve) => {
    waiting.push(resolve);
    channel.port2.postMessage(0);
  });
}

function fillControlsFromUrl() {
  const params = new URLSearchParams(location.search);
  const fields = { prime: ui.prime, n: ui.n, temperature: ui.temperature, top_k: ui.topK, seed: ui.seed };
  for (const [name, input] of Object.entries(fields)) {
    if (params.has(name)) input.value = params.get(name);
  }
  return { autorun: ["1", "true", "yes"].includes((params.get("autorun") ?? "").toLowerCase()),
    threads: params.has("threads") ? Number(params.get("threads")) : null };
}

function readInteger(input, name, min, max) {
  const text = input.value.trim();
  const value = Number(text);
  if (text === "" || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(input.value)}`);
  }
  return value;
}

function readRequest() {
  const n = readInteger(ui.n, "length", 1, 10_000_000);
  const temperature = Number(ui.temperature.value.trim());
  if (ui.temperature.value.trim() === "" || !Number.isFinite(temperature) || temperature < 0) {
    throw new Error(`temperature must be a number >= 0, got ${JSON.stringify(ui.temperature.value)}`);
  }
  const topK = readInteger(ui.topK, "top-k", 0, INT32_MAX);
  let seed;
  if (ui.seed.value.trim() === "") {
    seed = Math.floor(Math.random() * 2 ** 31); // like the CLI without --seed: pick one and show it
    ui.seed.value = String(seed);
  } else {
    seed = readInteger(ui.seed, "seed", INT32_MIN, INT32_MAX);
  }
  return { prime: ui.prime.value, n, temperature, topK, seed };
}

/** A `step(id) -> logits` closure over the model's `step` signature; the recurrent state stays in wasm. */
function makeStepper({ runner, layers, units }) {
  let state = new Tensor(new Float32Array(2 * layers * units), [1, 2 * layers, units]);
  return {
    async step(id) {
      const charId = new Tensor(Int32Array.of(id), [1]);
      let out;
      try {
        out = await runner.run({ char_id: charId, state });
      } finally {
        charId.delete();
      }
      state.delete();
      state = out.state; // the output state buffer is the next input: no copy
      const logits = Float32Array.from(out.logits.toTypedArray());
      out.logits.delete();
      return logits;
    },
    dispose() {
      state.delete();
    },
  };
}

function setRunning(isRunning) {
  ui.generate.disabled = isRunning || !session;
  ui.stop.disabled = !isRunning;
}

async function generate() {
  if (!session || running) return;
  clearMessages();
  let request;
  try {
    request = readRequest();
  } catch (error) {
    showError(error.message);
    return;
  }
  const { vocab } = session;
  const unknown = vocab.unknownChars(request.prime);
  if (unknown.length) {
    ui.notice.textContent = `Not in this model's vocabulary, read as unknown: ${unknown.map((c) => JSON.stringify(c)).join(" ")}`;
    ui.notice.hidden = false;
  }
  ui.output.removeAttribute("data-done");
  ui.primeEcho.textContent = request.prime;
  ui.output.textContent = "";
  ui.speed.textContent = "";
  ui.speed.removeAttribute("data-chars-per-second");
  ui.status.textContent = "Generating\u2026";
  const run = { stopped: false };
  running = run;
  setRunning(true);
  const stepper = makeStepper(session);
  let text = "";
  let count = 0;
  const start = performance.now();
  const showSpeed = () => {
    const seconds = (performance.now() - start) / 1000;
    const cps = seconds > 0 ? count / seconds : 0;
    ui.speed.textContent = `${count} chars, ${cps.toFixed(0)} chars/s`;
    ui.speed.dataset.charsPerSecond = cps.toFixed(1);
  };
  try {
    let lastYield = performance.now();
    const ids = generateIds({
      step: stepper.step, vocabSize: vocab.size, prime: primeIds(request.prime, vocab, session.startId),
      n: request.n, temperature: request.temperature, topK: request.topK, seed: request.seed,
    });
    for await (const id of ids) {
      text += vocab.decode(id);
      count++;
      if (performance.now() - lastYield >= YIELD_EVERY_MS) {
        ui.output.textContent = text;
        showSpeed();
        await yieldToEventLoop();
        lastYield = performance.now();
        if (run.stopped) break;
      }
    }
    ui.output.textContent = text;
    showSpeed();
    ui.status.textContent = run.stopped ? "Stopped." : "Done.";
  } catch (error) {
    ui.output.textContent = text;
    ui.status.textContent = "Failed.";
    showError(`Generation failed: ${error?.message ?? error}`, error);
  } finally {
    stepper.dispose();
    running = null;
    setRunning(false);
    ui.output.dataset.done = "1";
  }
}

// LiteRT's native log goes to console.error, INFO and WARNING lines included ("NPU accelerator could not be
// loaded", "Created TensorFlow Lite XNNPACK delegate"), and loadLiteRt probes WebGPU, which this page never
// uses (one character per step is a few matrix-vector products: the CPU path is the fast one), warning when
// there is none. While LiteRT loads, navigator.gpu is hidden and console.error/warn are wrapped: the
// wasm module binds console.error when it starts, so its informational lines stay on console.debug for good,
// and real errors still reach console.error.
const QUIET = /^(INFO|WARNING|VERBOSE|DEBUG): |^Failed to create default WebGPU device/;
async function quietly(action) {
  const { error, warn } = console;
  const demote = (original) => (...args) => (QUIET.test(String(args[0])) ? console.debug : original)(...args);
  console.error = demote(error);
  console.warn = demote(warn);
  let hidGpu = false;
  try {
    Object.defineProperty(navigator, "gpu", { value: undefined, configurable: true });
    hidGpu = true;
  } catch {
    // navigator not configurable here: LiteRT probes WebGPU and at worst warns.
  }
  try {
    return await action();
  } finally {
    console.error = error;
    console.warn = warn;
    if (hidGpu) delete navigator.gpu;
  }
}

async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`);
  return response;
}

async function loadSession(threadsParam) {
  const card = await (await fetchOk(CARD_URL)).json();
  const vocab = new Vocabulary(card.vocabulary);
  const layers = Number(card.layers);
  const units = Number(card.units);
  if (!(layers > 0 && units > 0)) throw new Error(`${CARD_URL} lacks layers/units`);

  // One thread unless ?threads=N asks for more: at batch 1 a step is a few matrix-vector products, and on a
  // 2-core machine the threaded build was slower (2x512: ~1,300-1,450 chars/s with 2 threads against
  // ~1,500-1,800 with 1). The threaded build needs SharedArrayBuffer, i.e. a cross-origin isolated page
  // (served with COOP: same-origin and COEP: require-corp).
  const threads = Number.isInteger(threadsParam) && threadsParam > 1 ? threadsParam : 1;
  const useThreads = threads > 1 && globalThis.crossOriginIsolated === true;
  if (threads > 1 && !useThreads) console.info("threads need a cross-origin isolated page; using 1");
  const wasmDir = new URL(WASM_DIR, document.baseURI).href;
  let threaded = useThreads;
  const modelBytes = fetchOk(MODEL_URL).then((response) => response.arrayBuffer());
  modelBytes.catch(() => {}); // awaited below; this only keeps an early failure from going unhandled
  const model = await quietly(async () => {
    try {
      await loadLiteRt(wasmDir, useThreads ? { threads: true } : undefined);
    } catch (error) {
      if (!useThreads) throw error;
      console.info("the threaded LiteRT.js build did not load; using the single-threaded one", error);
      threaded = false;
      await loadLiteRt(wasmDir);
    }
    return loadAndCompile(new Uint8Array(await modelBytes), {
      accelerator: "wasm", ...(threaded ? { cpuOptions: { numThreads: threads } } : {}),
    });
  });
  const runner = model.signatures.step;
  if (!runner) throw new Error(`${MODEL_URL} has no 'step' signature (it has: ${Object.keys(model.signatures).join(", ")})`);
  const inputs = Object.fromEntries(runner.getInputDetails().map((d) => [d.name, Array.from(d.shape)]));
  const want = { char_id: [1], state: [1, 2 * layers, units] };
  for (const [name, shape] of Object.entries(want)) {
    if (JSON.stringify(inputs[name]) !== JSON.stringify(shape)) {
      throw new Error(`${MODEL_URL}: input '${name}' has shape ${JSON.stringify(inputs[name] ?? null)}, `
        + `expected ${JSON.stringify(shape)} (a batch-1 static-shape model)`);
    }
  }
  return { card, vocab, startId: cardStartId(card, vocab), runner, layers, units, threads: threaded ? threads : 1 };
}

async function main() {
  const { autorun, threads } = fillControlsFromUrl();
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    generate();
  });
  ui.stop.addEventListener("click", () => {
    if (running) running.stopped = true;
  });
  try {
    session = await loadSession(threads);
  } catch (error) {
    ui.modelInfo.textContent = "The model could not be loaded.";
    showError(`Loading failed: ${error?.message ?? error}`, error);
    ui.output.dataset.done = "1";
    return;
  }
  const { card, vocab } = session;
  const params = card.parameters ? `, ${(card.parameters / 1e6).toFixed(1)}M parameters` : "";
  const loss = card.training?.val_bpc ? `, ${card.training.val_bpc.toFixed(3)} bits/char on validation` : "";
  ui.modelInfo.textContent = `LSTM ${session.layers}\u00d7${session.units}, ${vocab.size} ids${params}${loss}; `
    + `LiteRT.js WebAssembly, ${session.threads === 1 ? "1 thread" : `${session.threads} threads`}.`;
  setRunning(false);
  ui.status.textContent = "Ready.";
  if (autorun) await generate();
}

main();
