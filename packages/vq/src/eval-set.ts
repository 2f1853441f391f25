import { isHeldOut, Random } from "@laion/mixer";
import { imageOf, WebDataset } from "@laion/shards";
import { type DataParams, localSource } from "./data.js";
import { imageToFloat } from "./images.js";
import type { ImageSample } from "./samples.js";

/** A fixed evaluation set: decoded once at start, identical at every eval of a run (and of a resumed run). */
export interface EvalSet {
  /** [n,S,S,3] in [0,1]. */
  images: Float32Array;
  n: number;
  /** Key of each image (a crop is `<key>#crop<i>`). */
  keys: string[];
  /** Distinct source images behind the n eval images. */
  distinct: number;
  /** How many of the n are seeded random crops/flips (added when there are fewer distinct images than wanted). */
  crops: number;
  /** False when too few keys were held out, so (crops of) training images are evaluated. */
  heldOut: boolean;
  /** Distinct images per source name. */
  perSource: Record<string, number>;
}

export interface EvalSourceSpec {
  name: string;
  /** A fresh pass over the source (not resampled, so the set is the same in every run). */
  samples: () => Promise<AsyncIterable<ImageSample>>;
  /** Target share of the eval set from this source (normalised over the sources). */
  share: number;
}

interface Candidate {
  key: string;
  bytes: Uint8Array;
  pixels: Float32Array;
}

/** Below this many distinct held-out images an eval is too noisy: fall back to (crops of) all images. */
export const MIN_HELD_OUT = 8;

/**
 * Build the eval set from every source: up to `count` held-out images (by key hash, the same split that
 * keeps them out of training), split between the sources by `share`. When fewer than MIN_HELD_OUT
 * distinct images are held out (a tiny local folder), the set is drawn from all images instead
 * (`heldOut: false`). Either way, when there are fewer distinct images than `count`, seeded random
 * crops/flips of them fill it up, so PSNR and usage are averaged over `count` images, not one.
 */
export async function buildEvalSet(params: {
  sources: EvalSourceSpec[];
  count: number;
  imageSize: number;
  /** Share of each source's keys held out (the mixer's split, salted by the source's name). */
  heldOutFraction: number;
  seed: number;
  /** Samples scanned per source for held-out keys. Default 5000. */
  scanLimit?: number;
}): Promise<EvalSet> {
  const S = params.imageSize;
  const count = params.count;
  const held = new Map<string, Candidate[]>();
  const any = new Map<string, Candidate[]>();
  for (const src of params.sources) {
    const h: Candidate[] = [];
    const a: Candidate[] = [];
    let scanned = 0;
    for await (const sample of await src.samples()) {
      if (h.length >= count || scanned++ >= (params.scanLimit ?? 5000)) break;
      const key = String(sample.__key__);
      const isHeld = isHeldOut(key, params.heldOutFraction, src.name);
      if (!isHeld && a.length >= count) continue;
      const bytes = imageOf(sample);
      if (!bytes) continue;
      let pixels: Float32Array;
      try {
        pixels = await imageToFloat(bytes, S);
      } catch {
        continue; // undecodable eval candidates are simply not used
      }
      const c = { key, bytes, pixels };
      if (isHeld) h.push(c);
      if (a.length < count) a.push(c);
    }
    held.set(src.name, h);
    any.set(src.name, a);
  }
  const totalHeld = [...held.values()].reduce((s, l) => s + l.length, 0);
  const heldOut = totalHeld >= Math.min(MIN_HELD_OUT, count);
  const pool = pickByShare(heldOut ? held : any, params.sources, count);
  const perSource: Record<string, number> = {};
  for (const { source } of pool) perSource[source] = (perSource[source] ?? 0) + 1;

  const out: { key: string; pixels: Float32Array }[] = pool.map(({ c }) => ({
    key: c.key,
    pixels: c.pixels,
  }));
  let crops = 0;
  if (pool.length > 0) {
    const rng = new Random(params.seed ^ 0x0e7a1);
    for (let i = 0; out.length < count; i++) {
      const c = (pool[i % pool.length] as { c: Candidate }).c;
      const pixels = await imageToFloat(c.bytes, S, { rng: rng.fork(i), scale: [0.35, 1], flip: true });
      out.push({ key: `${c.key}#crop${i}`, pixels });
      crops++;
    }
  }
  const images = new Float32Array(out.length * S * S * 3);
  out.forEach((o, i) => {
    images.set(o.pixels, i * S * S * 3);
  });
  return {
    images,
    n: out.length,
    keys: out.map((o) => o.key),
    distinct: pool.length,
    crops,
    heldOut,
    perSource,
  };
}

/** Up to `count` candidates: each source's share first, then whatever is left, in source order. */
function pickByShare(
  bySource: Map<string, Candidate[]>,
  sources: EvalSourceSpec[],
  count: number,
): { source: string; c: Candidate }[] {
  const totalShare = sources.reduce((s, x) => s + Math.max(0, x.share), 0) || 1;
  const taken = new Map<string, number>();
  const picked: { source: string; c: Candidate }[] = [];
  for (const src of sources) {
    const list = bySource.get(src.name) ?? [];
    const quota = Math.min(list.length, Math.round((count * Math.max(0, src.share)) / totalShare));
    for (let i = 0; i < quota && picked.length < count; i++)
      picked.push({ source: src.name, c: list[i] as Candidate });
    taken.set(src.name, quota);
  }
  for (const src of sources) {
    const list = bySource.get(src.name) ?? [];
    for (let i = taken.get(src.name) ?? 0; i < list.length && picked.length < count; i++)
      picked.push({ source: src.name, c: list[i] as Candidate });
  }
  return picked;
}

/**
 * Where eval images come from: every source the run trains on, each read in a fixed order (LAION shards
 * without resampling), with its share of the eval set (`laionProb` for LAION).
 */
export function evalSources(params: DataParams): EvalSourceSpec[] {
  const sources: EvalSourceSpec[] = [];
  const p = params.captions ? params.laionProb : 1;
  if (params.captions) sources.push({ name: "local", share: 1 - p, samples: () => localSource(params) });
  if (params.laionTars) {
    const tars = params.laionTars;
    sources.push({
      name: "laion",
      share: p,
      samples: async () => WebDataset(tars, { handler: "warnAndContinue" }),
    });
  }
  if (sources.length === 0) throw new Error("no data: give --captions/--image-root and/or --laion-tars");
  return sources;
}
