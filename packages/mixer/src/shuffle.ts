import { createRng } from "./rng";
import { checkCount, type Stage } from "./stage";

/**
 * A buffered (approximate) shuffle: keeps `bufferSize` items, and for each new item yields a
 * uniformly chosen buffered one in its place; at the end the buffer is emptied in random order.
 * Deterministic for a given seed and input order. Not `Resumable` by itself (buffers are never
 * serialised): inside a mixture source, the mixer's replaying resume reproduces it exactly; pass
 * `seed + pass` from a factory to get a different order on each restart.
 */
export function shuffle<T>(bufferSize: number, seed: number): Stage<T, T> {
  checkCount("shuffle", "bufferSize", bufferSize, 1);
  if (!Number.isSafeInteger(seed)) throw new Error(`shuffle: seed must be a safe integer, got ${seed}`);
  return async function* (source) {
    const rng = createRng(seed);
    const buffer: T[] = [];
    for await (const item of source) {
      if (buffer.length < bufferSize) {
        buffer.push(item);
        continue;
      }
      const j = rng.nextInt(bufferSize);
      const out = buffer[j] as T;
      buffer[j] = item;
      yield out;
    }
    // Fisher–Yates order for the tail.
    for (let n = buffer.length; n > 0; n--) {
      const j = rng.nextInt(n);
      const out = buffer[j] as T;
      buffer[j] = buffer[n - 1] as T;
      buffer.pop();
      yield out;
    }
  };
}
