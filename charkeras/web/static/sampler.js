// charkeras's sampler in JavaScript: the same random numbers as TensorFlow, the same rules as every runtime.
//
// A port of the numpy half of charkeras's sampler (Philox + numpy sampler modules), so that a seed gives the
// browser the same text as the SavedModel, LiteRT in Python, a training run and TF Serving:
//
// - Philox-4x32-10 keyed as TensorFlow's stateless ops key it on CPU ("GenerateKey": one Philox block of the
//   sign-extended seed words under a fixed key gives the key and the upper counter words);
// - element j of a stateless op is word j % 4 of the block at counter + j // 4;
// - float32 uniform = (low 23 bits of the word) * 2^-23 (exactly TensorFlow's [1, 2) mantissa trick minus 1);
// - stateless_fold_in(seed, d) = [first word of the seed's stream as int32, d];
// - character i is argmax(logits / temperature + g) in float64 with g = -log(-log(u + 2^-24)) and
//   u = stateless_uniform([batch * vocab], fold_in(seed, i)); ids 0 (padding) and 1 (unknown) are never
//   sampled; top_k > 0 keeps the ids whose logit is >= the k-th largest (ties stay); temperature <= 0 is
//   greedy. JavaScript numbers are float64, as numpy's are after the cast; float32 logits convert exactly.
//
// No dependencies; runs in node (tested against vectors from the Python implementation) and in browsers.

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const SCRAMBLE_KEY = [0x3ec8f720, 0x02461e29];

export const PAD_ID = 0;
export const UNK_ID = 1;
const MIN_TEMPERATURE = Math.fround(1e-6);
const UNIFORM_SHIFT = 2 ** -24;
const MANTISSA_SCALE = 2 ** -23;

// High 32 bits of the 64-bit product of two uint32 values, through 16-bit limbs (all partial sums < 2^53).
function mulhi32(a, b) {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const lowLow = al * bl;
  const lowHigh = al * bh;
  const highLow = ah * bl;
  const carry = (lowLow >>> 16) + (lowHigh & 0xffff) + (highLow & 0xffff);
  return (ah * bh + Math.floor(lowHigh / 65536) + Math.floor(highLow / 65536) + Math.floor(carry / 65536)) >>> 0;
}

/** Philox-4x32-10 of counter words c (4 uint32) under key words k (2 uint32); returns 4 uint32. */
export function philoxBlock(c, k) {
  let c0 = c[0] >>> 0;
  let c1 = c[1] >>> 0;
  let c2 = c[2] >>> 0;
  let c3 = c[3] >>> 0;
  let k0 = k[0] >>> 0;
  let k1 = k[1] >>> 0;
  for (let round = 0; round < 10; round++) {
    if (round) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const hi0 = mulhi32(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi32(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  return [c0, c1, c2, c3];
}

// int32 seed pair -> {key: 2 words, counter: 4 words}, as TensorFlow's GenerateKey derives them.
function seedKeyCounter(seed) {
  const s0 = seed[0] | 0;
  const s1 = seed[1] | 0;
  // int32 -> int64 sign-extends: the high word is all ones for a negative seed.
  const words = [s0 >>> 0, s0 < 0 ? 0xffffffff : 0, s1 >>> 0, s1 < 0 ? 0xffffffff : 0];
  const mix = philoxBlock(words, SCRAMBLE_KEY);
  return { key: [mix[0], mix[1]], counter: [0, 0, mix[2], mix[3]] };
}

/** Uint32Array [size]: the raw words of a stateless op with `size` elements for int32 seed [s0, s1]. */
export function randomWords(seed, size) {
  const { key, counter } = seedKeyCounter(seed);
  const out = new Uint32Array(size);
  const blocks = Math.ceil(size / 4);
  for (let b = 0; b < blocks; b++) {
    // Counter word 0 starts at 0, so adding the block index never carries into word 1.
    const words = philoxBlock([b, counter[1], counter[2], counter[3]], key);
    for (let w = 0; w < 4 && b * 4 + w < size; w++) out[b * 4 + w] = words[w];
  }
  return out;
}

/** Float32Array [size] = tf.random.stateless_uniform([size], seed) on CPU. */
export function statelessUniform(seed, size) {
  const words = randomWords(seed, size);
  const out = new Float32Array(size);
  for (let j = 0; j < size; j++) out[j] = (words[j] & 0x7fffff) * MANTISSA_SCALE; // exact in float32
  return out;
}

/** [int32, int32] = tf.random.experimental.stateless_fold_in(seed, data) for int32 `data`. */
export function statelessFoldIn(seed, data) {
  return [randomWords(seed, 1)[0] | 0, data | 0];
}

/**
 * Float64Array [batch * vocab]: the Gumbel noise of character `index` for signature seed `seed` ([s, 0] for
 * `--seed s`), i.e. -log(-log(u + 2^-24)) with u = stateless_uniform([batch*vocab], fold_in(seed, index)).
 */
export function gumbelNoise(seed, index, vocab, batch = 1) {
  const u = statelessUniform(statelessFoldIn(seed, index), batch * vocab);
  const out = new Float64Array(u.length);
  for (let j = 0; j < u.length; j++) out[j] = -Math.log(-Math.log(u[j] + UNIFORM_SHIFT));
  return out;
}

/**
 * A noise source for one generation: `noiseFor(i)` is gumbelNoise(seed, i, vocab) with the seed's first
 * fold_in word computed once.
 */
export function noiseSource(seed, vocab) {
  const first = randomWords(seed, 1)[0] | 0;
  return (index) => {
    const u = statelessUniform([first, index | 0], vocab);
    const out = new Float64Array(vocab);
    for (let j = 0; j < vocab; j++) out[j] = -Math.log(-Math.log(u[j] + UNIFORM_SHIFT));
    return out;
  };
}

function argmax(values) {
  let best = 0;
  for (let j = 1; j < values.length; j++) if (values[j] > values[best]) best = j;
  return best;
}

/**
 * The next id from one row of float32 `logits` (Float32Array or array of float32 values) and this
 * character's noise (Float64Array [vocab]; unused when greedy): charkeras's sample_next_numpy for batch 1.
 */
export function sampleNext(logits, temperature, topK, noise) {
  const vocab = logits.length;
  const masked = Float32Array.from(logits);
  masked[PAD_ID] = -Infinity;
  if (vocab > UNK_ID) masked[UNK_ID] = -Infinity;
  topK = Math.trunc(topK);
  if (topK > 0 && topK < vocab) {
    // The k-th largest value (what numpy's partition at vocab - k returns), then drop everything below it.
    const sorted = Float32Array.from(masked).sort(); // ascending, -Infinity first
    const kthBest = sorted[vocab - topK];
    for (let j = 0; j < vocab; j++) if (masked[j] < kthBest) masked[j] = -Infinity;
  }
  const t = Math.fround(temperature); // the signatures receive a float32 temperature
  if (t <= 0) return argmax(masked);
  const scale = Math.max(t, MIN_TEMPERATURE); // float32 values, compared and used as float64
  const scores = new Float64Array(vocab);
  for (let j = 0; j < vocab; j++) scores[j] = masked[j] / scale + noise[j];
  return argmax(scores);
}
