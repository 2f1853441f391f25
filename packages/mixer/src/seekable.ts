import type { AnyIterable, Resumable } from "./types";

export interface SeekableState {
  offset: number;
}

/**
 * Wraps `open(offset)` — a function that can start a source at any item offset (a shard reader
 * with a row offset, an array slice) — into a `Resumable` source, so a resumed mixture seeks to
 * where it was instead of replaying and discarding the items already taken.
 */
export function seekable<T>(
  open: (offset: number) => AnyIterable<T>,
): AsyncIterable<T> & Resumable<SeekableState> {
  let offset = 0;
  return {
    state: () => ({ offset }),
    restore(state) {
      if (!Number.isSafeInteger(state?.offset) || state.offset < 0) {
        throw new Error(
          `seekable: cannot restore offset ${JSON.stringify(state?.offset)}; expected a count ≥ 0`,
        );
      }
      offset = state.offset;
    },
    async *[Symbol.asyncIterator]() {
      for await (const item of open(offset)) {
        // Counted before yielding: state() taken while the consumer holds this item points past it.
        offset++;
        yield item;
      }
    },
  };
}
