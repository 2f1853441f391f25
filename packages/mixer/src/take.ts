import { checkCount, type Stage } from "./stage";

/** The first `n` items; the source is closed (return()) as soon as the n-th item has been taken. */
export function take<T>(n: number): Stage<T, T> {
  checkCount("take", "n", n, 0);
  return async function* (source) {
    if (n === 0) return;
    let taken = 0;
    // for-await calls the source's return() when we leave the loop early.
    for await (const item of source) {
      yield item;
      if (++taken >= n) return;
    }
  };
}
