// Text <-> ids and the generation loop shared by every charkeras runtime, for the browser (and node tests).
//
// - The vocabulary is the export card's list: id i is vocabulary[i]; 0 is padding (""), 1 is unknown
//   ("[UNK]"), then single characters (Unicode code points). Prime characters missing from it read as id 1.
// - An empty prime starts from the card's start_id: the newline id when the vocabulary has one, else id 2.
// - The prime is fed through the model; then character i (i = 0 .. n-1) is sampled with the noise of
//   fold_in([seed, 0], i) and fed back. `--seed s` in the CLI is the signature seed [s, 0].

import { UNK_ID, noiseSource, sampleNext } from "./sampler.js";

export class Vocabulary {
  constructor(tokens) {
    if (!Array.isArray(tokens) || tokens.length < 3) {
      throw new Error("the card's vocabulary must list at least padding, unknown and one character");
    }
    this.tokens = tokens.map(String);
    this.ids = new Map();
    for (let id = 2; id < this.tokens.length; id++) this.ids.set(this.tokens[id], id);
  }

  get size() {
    return this.tokens.length;
  }

  /** Ids of each code point of `text`; characters not in the vocabulary are the unknown id 1. */
  encode(text) {
    return Array.from(text, (ch) => this.ids.get(ch) ?? UNK_ID);
  }

  /** The distinct characters of `text` that the vocabulary lacks, in order of appearance. */
  unknownChars(text) {
    return [...new Set(Array.from(text).filter((ch) => !this.ids.has(ch)))];
  }

  decode(id) {
    return this.tokens[id];
  }

  /** The id fed before sampling when the prime is empty: newline if known, else id 2. */
  defaultStartId() {
    return this.ids.get("\n") ?? 2;
  }
}

/** The start id of a card: its start_id when it has one, else the rule. */
export function cardStartId(card, vocab) {
  const id = card.start_id;
  return Number.isInteger(id) && id >= 2 && id < vocab.size ? id : vocab.defaultStartId();
}

/** Ids fed before sampling: the prime's, or [startId] when the prime is empty. */
export function primeIds(prime, vocab, startId) {
  return prime ? vocab.encode(prime) : [startId];
}

/**
 * Sample `n` ids, yielding each as soon as it is drawn.
 *
 * `step(id)` feeds one id to the model (which keeps its own recurrent state) and resolves to the logits
 * after it (float32 values, length vocab). `seed` is the CLI seed s (signature seed [s, 0]).
 */
export async function* generateIds({ step, vocabSize, prime, n, temperature, topK, seed }) {
  if (!prime.length) throw new Error("generateIds needs at least one prime id");
  let logits;
  for (const id of prime) logits = await step(id);
  const noise = noiseSource([seed | 0, 0], vocabSize);
  const greedy = Math.fround(temperature) <= 0;
  for (let i = 0; i < n; i++) {
    const id = sampleNext(logits, temperature, topK, greedy ? null : noise(i));
    yield id;
    if (i + 1 < n) logits = await step(id);
  }
}
