import type { KeyedSample } from "@laion/shards";

/** A sample as the @laion/shards readers yield it (or a custom source gives it): a key and its members. */
export type ImageSample = KeyedSample;

/**
 * Held-out split by key hash: stable across runs, epochs and shard orders. Plain FNV-1a per mille, not
 * the mixer's finalised `hashString`: switching would move every existing run's eval set.
 */
export function isHeldOut(key: string, percent: number): boolean {
  return percent > 0 && fnv1a(key) % 1000 < percent * 10;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
