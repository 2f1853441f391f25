/**
 * A seeded PRNG (mulberry32 over a splitmix32-scrambled seed). All randomness in this package
 * comes from here, never from Math.random, so `--seed` reproduces a run exactly.
 */
export function createRng(seed: number): () => number {
  let s = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  s = Math.imul(s ^ (s >>> 16), 0x85ebca6b) >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates in place with the given PRNG. */
export function shuffleInPlace<T>(items: T[], rng: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
  return items;
}

/**
 * Shuffle a stream of batches through a bounded buffer: once `size` items are held, each new item
 * replaces a random held one, which is emitted. Memory is O(size + one batch); the order depends
 * only on the input and the rng. Works on batches so the per-item cost stays a few nanoseconds.
 */
export async function* bufferShuffle<T>(
  batches: AsyncIterable<readonly T[]>,
  params: { size: number; rng: () => number },
): AsyncGenerator<T[]> {
  const buf: T[] = [];
  for await (const batch of batches) {
    const out: T[] = [];
    for (const item of batch) {
      if (buf.length < params.size) {
        buf.push(item);
        continue;
      }
      const j = Math.floor(params.rng() * buf.length);
      out.push(buf[j]!);
      buf[j] = item;
    }
    if (out.length > 0) yield out;
  }
  shuffleInPlace(buf, params.rng);
  if (buf.length > 0) yield buf;
}
