import { checkCount, type Stage } from "./stage";

export interface BatchOptions {
  /** Drop a final batch shorter than `size` (default false: yield it). */
  dropLast?: boolean;
}

/** Groups items into arrays of `size`. Reads no further ahead than the batch being filled. */
export function batch<T>(size: number, options: BatchOptions = {}): Stage<T, T[]> {
  checkCount("batch", "size", size, 1);
  const dropLast = options.dropLast ?? false;
  return async function* (source) {
    let current: T[] = [];
    for await (const item of source) {
      current.push(item);
      if (current.length === size) {
        const full = current;
        current = [];
        yield full;
      }
    }
    if (current.length > 0 && !dropLast) yield current;
  };
}
