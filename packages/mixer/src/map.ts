import { checkCount, iteratorOf, type Stage } from "./stage";

export interface MapOptions {
  /** How many calls of `fn` may run at once (default 1). Output order is always input order. */
  concurrency?: number;
}

/**
 * Applies an (async) function to every item, up to `concurrency` calls at a time, yielding results in
 * input order. At most `concurrency` items are read ahead of the consumer. If `fn` rejects, the error
 * is thrown at that item's position and the source is closed.
 */
export function map<T, U>(
  fn: (item: T, index: number) => U | Promise<U>,
  options: MapOptions = {},
): Stage<T, U> {
  const concurrency = checkCount("map", "concurrency", options.concurrency ?? 1, 1);
  return async function* (source) {
    const iterator = iteratorOf(source);
    let sourceDone = false;
    let index = 0;
    const running: Promise<U>[] = [];
    try {
      for (;;) {
        while (!sourceDone && running.length < concurrency) {
          const r = await iterator.next();
          if (r.done) {
            sourceDone = true;
            break;
          }
          const i = index++;
          const call = Promise.resolve().then(() => fn(r.value, i));
          // Rejections are rethrown in order below; this only stops "unhandled rejection" noise meanwhile.
          call.catch(() => {});
          running.push(call);
        }
        const head = running.shift();
        if (head === undefined) return;
        yield await head;
      }
    } finally {
      if (!sourceDone) await iterator.return?.();
    }
  };
}
