// Static checks of the page: the LiteRT.js files it needs are in the manifest and installed, the import map and
// wasm directory agree with the manifest, and nothing sets HTML from strings.
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { test } from "node:test";

const web = new URL("../../charkeras/web/", import.meta.url);
const read = (path) => readFileSync(new URL(path, web), "utf8");
const manifest = JSON.parse(read("runtime-files.json"));
const lock = JSON.parse(read("package-lock.json"));

test("the manifest's LiteRT.js files are installed from the pinned, locked version", () => {
  const pinned = JSON.parse(read("package.json")).dependencies["@litertjs/core"];
  assert.match(pinned, /^2\.5\.\d+$/, "an exact 2.5.x pin");
  assert.equal(manifest.version, pinned);
  assert.equal(lock.packages["node_modules/@litertjs/core"].version, pinned);
  for (const file of manifest.files) {
    const path = new URL(`node_modules/${file.from}`, web);
    assert.ok(file.optional || existsSync(path), `${file.from} missing: run 'npm ci --prefix charkeras/web'`);
    assert.match(file.to, /^litert\/[\w./-]+$/);
  }
});

test("the import map and the wasm directory point at vendored files", () => {
  const html = read("static/index.html");
  const map = JSON.parse(html.match(/<script type="importmap">([\s\S]*?)<\/script>/)[1]);
  const vendored = new Set(manifest.files.map((f) => `./${f.to}`));
  assert.deepEqual(Object.keys(map.imports).sort(), ["@litertjs/core", "@litertjs/wasm-utils"]);
  for (const target of Object.values(map.imports)) assert.ok(vendored.has(target), target);
  const wasmDir = read("static/app.js").match(/const WASM_DIR = "([^"]+)"/)[1];
  for (const name of ["litert_wasm_internal", "litert_wasm_compat_internal"]) {
    for (const ext of [".js", ".wasm"]) assert.ok(vendored.has(`./${wasmDir}${name}${ext}`), name + ext);
  }
  assert.ok(html.indexOf('type="importmap"') < html.indexOf('type="module"'), "import map before modules");
});

test("the page never parses text as HTML and fetches nothing remote", () => {
  for (const name of readdirSync(new URL("static/", web)).filter((n) => n.endsWith(".js"))) {
    const source = read(`static/${name}`);
    assert.doesNotMatch(source, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/, name);
    assert.doesNotMatch(source, /https?:\/\//, `${name} names no remote URL`);
  }
  assert.doesNotMatch(read("static/index.html"), /<(script|link)[^>]+(src|href)="https?:/);
});
