import type { AnyIterable } from "./types";

/** A pipeline stage: a function from one stream to another (what `take(n)`, `batch(size)`, … return). */
export type Stage<A, B> = (source: AnyIterable<A>) => AsyncIterable<B>;

/** Opens an async iterator over either kind of iterable. */
export function iteratorOf<T>(source: AnyIterable<T>): AsyncIterator<T> | Iterator<T> {
  return typeof (source as AsyncIterable<T>)[Symbol.asyncIterator] === "function"
    ? (source as AsyncIterable<T>)[Symbol.asyncIterator]()
    : (source as Iterable<T>)[Symbol.iterator]();
}

export function checkCount(fn: string, name: string, value: unknown, min: number): number {
  if (!Number.isSafeInteger(value) || (value as number) < min) {
    throw new Error(`${fn}: ${name} must be an integer ≥ ${min}; got ${String(value)}`);
  }
  return value as number;
}
