import { checkCount, iteratorOf, type Stage } from "./stage";

/**
 * Reads up to `n` items ahead of the consumer in the background, so a slow producer and a slow
 * consumer overlap. Never holds more than `n` items (pulled but not yet yielded); errors are
 * delivered in order, after the items before them. Closing the consumer closes the source.
 */
export function prefetch<T>(n: number): Stage<T, T> {
  checkCount("prefetch", "n", n, 1);
  return (source) => ({
    [Symbol.asyncIterator]() {
      const iterator = iteratorOf(source);
      const buffer: IteratorResult<T>[] = [];
      let failure: { error: unknown } | null = null;
      let inFlight = false;
      let finished = false; // the source ended, failed or was closed: pull no more
      let closed = false; // the consumer called return() or saw an error
      let wake: (() => void) | null = null;

      const notify = (): void => {
        const w = wake;
        wake = null;
        w?.();
      };
      const pump = (): void => {
        if (inFlight || finished || buffer.length >= n) return;
        inFlight = true;
        Promise.resolve()
          .then(() => iterator.next())
          .then(
            (r) => {
              inFlight = false;
              if (closed) return;
              if (r.done) finished = true;
              buffer.push(r);
              notify();
              pump();
            },
            (error: unknown) => {
              inFlight = false;
              finished = true;
              failure = { error };
              notify();
            },
          );
      };
      return {
        async next(): Promise<IteratorResult<T>> {
          for (;;) {
            const head = buffer.shift();
            if (head !== undefined) {
              pump();
              return head;
            }
            if (failure !== null) {
              const { error } = failure;
              failure = null;
              closed = true;
              throw error;
            }
            if (finished || closed) return { done: true, value: undefined };
            pump();
            await new Promise<void>((resolve) => {
              wake = resolve;
            });
          }
        },
        async return(): Promise<IteratorResult<T>> {
          if (!closed) {
            closed = true;
            const wasFinished = finished;
            finished = true;
            buffer.length = 0;
            if (!wasFinished) await iterator.return?.();
          }
          return { done: true, value: undefined };
        },
      };
    },
  });
}
