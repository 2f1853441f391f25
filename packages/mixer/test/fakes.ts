/** Test sources that count what the mixer does to them. */
export interface Counters {
  /** How many iterators were created (calls to [Symbol.asyncIterator]). */
  opened: number;
  /** Calls to next(). */
  pulled: number;
  /** Calls to return(). */
  returned: number;
}

/**
 * An AsyncIterable over `length` items `item(i)` (Infinity for an endless one) that counts
 * iterator creation, pulls and return() calls. A closed iterator yields nothing more.
 */
export function counting<T>(
  item: (i: number) => T,
  length = Number.POSITIVE_INFINITY,
): { source: AsyncIterable<T>; counters: Counters } {
  const counters: Counters = { opened: 0, pulled: 0, returned: 0 };
  const source: AsyncIterable<T> = {
    [Symbol.asyncIterator]() {
      counters.opened++;
      let i = 0;
      let closed = false;
      return {
        async next() {
          counters.pulled++;
          if (closed || i >= length) return { done: true, value: undefined };
          return { done: false, value: item(i++) };
        },
        async return() {
          counters.returned++;
          closed = true;
          return { done: true, value: undefined };
        },
      };
    },
  };
  return { source, counters };
}

/** An async generator over 0..n-1 tagged with a name, e.g. "text:3". */
export async function* tagged(name: string, n = Number.POSITIVE_INFINITY, pass = 0): AsyncGenerator<string> {
  for (let i = 0; i < n; i++) yield pass === 0 ? `${name}:${i}` : `${name}@${pass}:${i}`;
}

export async function collect<T>(source: AsyncIterable<T>, limit = Number.POSITIVE_INFINITY): Promise<T[]> {
  const out: T[] = [];
  if (limit <= 0) return out;
  for await (const x of source) {
    out.push(x);
    if (out.length >= limit) break;
  }
  return out;
}
