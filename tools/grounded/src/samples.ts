// Which image is sample i of a split: a pure function of (seed, split, i), so shards can be written in
// any order, a killed run rewrites the same shard, and a test can check any sample on its own.
import { createRng, seedFrom } from "@laion/mixer";
import { type Combo, DEFAULT_HELD_OUT, POSITIONS, splitCombos } from "./attributes.js";
import { caption, LANGS, type Lang, TEMPLATE_COUNT } from "./captions.js";
import { makeScene, type Scene } from "./scene.js";

export type Split = "train" | "heldout";
export const SPLITS: readonly Split[] = ["train", "heldout"];

export interface SampleParams {
  seed: number;
  split: Split;
  /** Colour × shape pairs never drawn in the train split (default DEFAULT_HELD_OUT). */
  heldOut?: readonly Combo[];
  /** Caption languages, drawn per sample (default both). */
  langs?: readonly Lang[];
  /** Image side, pixels (default 64). */
  imageSize?: number;
}

export interface GroundedSample {
  index: number;
  split: Split;
  scene: Scene;
  lang: Lang;
  caption: string;
}

const SPLIT_STREAM: Record<Split, number> = { train: 1, heldout: 2 };

export function checkSampleParams(p: SampleParams): void {
  if (!SPLITS.includes(p.split))
    throw new Error(`split must be one of ${SPLITS.join(", ")}, got "${p.split}"`);
  if (!Number.isSafeInteger(p.seed) || p.seed < 0)
    throw new Error(`seed must be an integer >= 0, got ${p.seed}`);
  for (const l of p.langs ?? LANGS)
    if (!LANGS.includes(l))
      throw new Error(`unknown caption language "${l}"; use one of: ${LANGS.join(", ")}`);
  if (p.langs && p.langs.length === 0) throw new Error("langs is empty: give at least one caption language");
  const size = p.imageSize ?? 64;
  if (!Number.isInteger(size) || size < 16 || size > 1024)
    throw new Error(`imageSize must be an integer between 16 and 1024, got ${size}`);
  if (p.split === "heldout" && (p.heldOut ?? DEFAULT_HELD_OUT).length === 0)
    throw new Error("the heldout split is empty: no colour-shape combination is held out");
}

/**
 * Sample `index` of a split. Training samples draw a pair uniformly from the pairs not held out; the
 * held-out split cycles through every held-out pair × position × language so its scores are balanced.
 */
export function groundedSample(p: SampleParams, index: number): GroundedSample {
  checkSampleParams(p);
  const combos = splitCombos(p.heldOut ?? DEFAULT_HELD_OUT);
  const langs = p.langs ?? LANGS;
  const rng = createRng(seedFrom(p.seed, SPLIT_STREAM[p.split], index));
  let combo: Combo;
  let position: string;
  let lang: Lang;
  if (p.split === "train") {
    combo = combos.train[rng.nextInt(combos.train.length)]!;
    position = POSITIONS[rng.nextInt(POSITIONS.length)]!.id;
    lang = langs[rng.nextInt(langs.length)]!;
  } else {
    const n = combos.heldOut.length;
    combo = combos.heldOut[index % n]!;
    position = POSITIONS[Math.floor(index / n) % POSITIONS.length]!.id;
    lang = langs[Math.floor(index / (n * POSITIONS.length)) % langs.length]!;
  }
  const scene = makeScene(rng, combo, position, p.imageSize ?? 64);
  const text = caption(scene, lang, rng.nextInt(TEMPLATE_COUNT));
  return { index, split: p.split, scene, lang, caption: text };
}
