import { type Rng, shuffleInPlace } from "@laion/mixer";

/**
 * Shuffle a stream of batches through a bounded buffer: once `size` items are held, each new item
 * replaces a random held one, which is emitted. Memory is O(size + one batch); the order depends
 * only on the input and the rng. Works on batches so the per-item cost stays a few nanoseconds.
 */
export async function* bufferShuffle<T>(
  batches: AsyncIterable<readonly T[]>,
  params: { size: number; rng: Rng },
): AsyncGenerator<T[]> {
  const buf: T[] = [];
  for await (const batch of batches) {
    const out: T[] = [];
    for (const item of batch) {
      if (buf.length < params.size) {
        buf.push(item);
        continue;
      }
      const j = params.rng.nextInt(buf.length);
      out.push(buf[j]!);
      buf[j] = item;
    }
    if (out.length > 0) yield out;
  }
  shuffleInPlace(buf, params.rng);
  if (buf.length > 0) yield buf;
}
