import { iteratorOf } from "./stage";
import type { AnyIterable } from "./types";

type ItemOf<I> = I extends AnyIterable<infer T> ? T : never;

/**
 * Round robin: one item from each source in turn; a source that ends leaves the rotation, and the
 * stream ends when all have. Sources are opened on their first turn; closing the consumer closes
 * every open source.
 */
export function interleave<const S extends readonly AnyIterable<unknown>[]>(
  ...sources: S
): AsyncIterable<ItemOf<S[number]>> {
  return {
    async *[Symbol.asyncIterator]() {
      const iterators: (AsyncIterator<unknown> | Iterator<unknown> | null)[] = sources.map(() => null);
      const live = sources.map((_, i) => i);
      let failedAt = -1;
      try {
        let k = 0;
        while (live.length > 0) {
          k %= live.length;
          const i = live[k] as number;
          let it = iterators[i];
          if (it == null) {
            it = iteratorOf(sources[i] as AnyIterable<unknown>);
            iterators[i] = it;
          }
          failedAt = i;
          const r = await it.next();
          failedAt = -1;
          if (r.done) {
            iterators[i] = null;
            live.splice(k, 1);
            continue;
          }
          k++;
          yield r.value as ItemOf<S[number]>;
        }
      } finally {
        if (failedAt >= 0) iterators[failedAt] = null;
        for (const it of iterators) await it?.return?.();
      }
    },
  };
}
