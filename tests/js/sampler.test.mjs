// The JavaScript sampler against fixed vectors from charkeras's numpy sampler (tools/make_web_vectors.py).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  gumbelNoise, noiseSource, philoxBlock, randomWords, sampleNext, statelessFoldIn, statelessUniform,
} from "../../charkeras/web/static/sampler.js";
import { Vocabulary, cardStartId, generateIds, primeIds } from "../../charkeras/web/static/textgen.js";

const vectors = JSON.parse(readFileSync(new URL("./vectors.json", import.meta.url), "utf8"));

test("philox block: the Random123 known-answer vectors", () => {
  // Salmon et al.'s kat_vectors for philox4x32-10.
  assert.deepEqual(philoxBlock([0, 0, 0, 0], [0, 0]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
  assert.deepEqual(philoxBlock([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]),
    [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
  assert.deepEqual(philoxBlock([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]),
    [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
});

test("raw words and float32 uniforms equal numpy's, bit for bit", () => {
  assert.ok(vectors.uniform.length > 50);
  for (const { seed, size, words, uniform } of vectors.uniform) {
    assert.deepEqual(Array.from(randomWords(seed, size)), words, `words seed=${seed} size=${size}`);
    const got = statelessUniform(seed, size);
    assert.ok(got instanceof Float32Array);
    assert.deepEqual(Array.from(got), uniform, `uniform seed=${seed} size=${size}`);
  }
});

test("stateless_fold_in equals numpy's", () => {
  for (const { seed, data, out } of vectors.fold_in) {
    data.forEach((d, j) => assert.deepEqual(statelessFoldIn(seed, d), out[j], `fold_in(${seed}, ${d})`));
  }
});

test("Gumbel noise equals numpy's float64 values up to the last bits of Math.log", () => {
  // The uniforms are bit-exact; -log(-log(u)) goes through V8's Math.log, which may differ from the C
  // library's log (numpy) in the last bit: allow a few ulps (an id changes only on a 1e-15 tie).
  let values = 0;
  let inexact = 0;
  for (const { seed, first, count, vocab, noise } of vectors.gumbel_noise) {
    const source = noiseSource(seed, vocab);
    for (let i = 0; i < count; i++) {
      const got = gumbelNoise(seed, first + i, vocab);
      assert.deepEqual(Array.from(source(first + i)), Array.from(got));
      got.forEach((g, j) => {
        const want = noise[i][j];
        values++;
        if (g !== want) inexact++;
        assert.ok(Math.abs(g - want) <= 1e-14 * Math.max(1, Math.abs(want)),
          `noise seed=${seed} i=${first + i} j=${j}: ${g} vs ${want}`);
      });
    }
  }
  assert.ok(values > 400 && inexact < values / 2, `${inexact} of ${values} differ in the last bits`);
});

test("sampled ids equal numpy's for every temperature / top-k case", () => {
  let count = 0;
  for (const { name, logits, cases } of vectors.sample_next) {
    const row = Float32Array.from(logits);
    assert.deepEqual(Array.from(row), logits, `${name}: logits are float32 values`);
    for (const [seed, index, temperature, topK, id] of cases) {
      const noise = gumbelNoise([seed, 0], index, row.length);
      assert.equal(sampleNext(row, temperature, topK, noise), id,
        `${name} seed=${seed} i=${index} T=${temperature} k=${topK}`);
      count++;
    }
  }
  assert.ok(count > 2000);
});

test("padding and unknown are never sampled; greedy takes the first maximum", () => {
  const logits = Float32Array.from([9, 9, 1, 3, 3, -2]);
  assert.equal(sampleNext(logits, 0, 0, null), 3);
  assert.equal(sampleNext(logits, -1, 0, null), 3);
  for (let i = 0; i < 200; i++) {
    const id = sampleNext(logits, 5, 0, gumbelNoise([1, 0], i, logits.length));
    assert.ok(id >= 2);
  }
  // top-k 1 keeps the tied maximum pair: only ids 3 and 4 can come out.
  const seen = new Set();
  for (let i = 0; i < 200; i++) seen.add(sampleNext(logits, 1, 1, gumbelNoise([2, 0], i, logits.length)));
  assert.deepEqual([...seen].sort(), [3, 4]);
});

test("the generation loop equals numpy's on a toy model", async () => {
  for (const { vocab, table, runs } of vectors.generate_loop) {
    for (const run of runs) {
      const step = async (id) => Float32Array.from(table[id]);
      const ids = [];
      for await (const id of generateIds({ step, vocabSize: vocab, prime: run.prime_ids, n: run.n,
        temperature: run.temperature, topK: run.top_k, seed: run.seed })) ids.push(id);
      assert.deepEqual(ids, run.ids, `seed=${run.seed} T=${run.temperature} k=${run.top_k}`);
    }
  }
});

test("vocabulary: code points, unknown id, start id", () => {
  const vocab = new Vocabulary(["", "[UNK]", " ", "e", "\n", "😀", "<"]);
  assert.deepEqual(vocab.encode("e😀x<"), [3, 5, 1, 6]);
  assert.deepEqual(vocab.unknownChars("xyx e"), ["x", "y"]);
  assert.equal(vocab.defaultStartId(), 4);
  assert.equal(new Vocabulary(["", "[UNK]", "a", "b"]).defaultStartId(), 2);
  assert.equal(cardStartId({ start_id: 5 }, vocab), 5);
  assert.equal(cardStartId({}, vocab), 4);
  assert.deepEqual(primeIds("", vocab, 4), [4]);
  assert.deepEqual(primeIds("ee", vocab, 4), [3, 3]);
});
