import { type Random, randomInt } from "./prng.js";

/**
 * Sample-level shuffle with a bounded buffer (webdataset's `.shuffle(n)`): fill `size` items,
 * then for each new item emit a random buffered one and put the new one in its place;
 * drain in random order at the end. Memory is `size` items, whatever the source length.
 */
export async function* shuffleBuffer<T>(
  source: AsyncIterable<T>,
  size: number,
  random: Random,
): AsyncGenerator<T> {
  if (size <= 1) {
    yield* source;
    return;
  }
  const buffer: T[] = [];
  for await (const item of source) {
    if (buffer.length < size) {
      buffer.push(item);
      continue;
    }
    const i = randomInt(random, size);
    const out = buffer[i] as T;
    buffer[i] = item;
    yield out;
  }
  while (buffer.length > 0) {
    const i = randomInt(random, buffer.length);
    const out = buffer[i] as T;
    buffer[i] = buffer[buffer.length - 1] as T;
    buffer.pop();
    yield out;
  }
}
