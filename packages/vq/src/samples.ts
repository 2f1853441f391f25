import { hashString } from "./rng.js";

/** A sample as the @laion/shards readers yield it: a key and each member's bytes under its extension. */
export interface ImageSample {
  __key__: string;
  [ext: string]: unknown;
}

const IMAGE_EXTS = ["jpg", "jpeg", "png", "webp"] as const;

/** The image bytes of a sample, or undefined when it has none. */
export function sampleImage(sample: ImageSample): Uint8Array | undefined {
  for (const ext of IMAGE_EXTS) {
    const v = sample[ext];
    if (v instanceof Uint8Array) return v;
  }
  return undefined;
}

/** Held-out split by key hash: stable across runs, epochs and shard orders. */
export function isHeldOut(key: string, percent: number): boolean {
  return percent > 0 && hashString(key) % 1000 < percent * 10;
}
