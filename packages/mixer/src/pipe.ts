import type { Stage } from "./stage";
import type { AnyIterable } from "./types";

/** `pipe(source, take(10), batch(2))` ≡ `batch(2)(take(10)(source))`, typed stage by stage. */
export function pipe<A>(source: AnyIterable<A>): AnyIterable<A>;
export function pipe<A, B>(source: AnyIterable<A>, s1: Stage<A, B>): AsyncIterable<B>;
export function pipe<A, B, C>(source: AnyIterable<A>, s1: Stage<A, B>, s2: Stage<B, C>): AsyncIterable<C>;
export function pipe<A, B, C, D>(
  source: AnyIterable<A>,
  s1: Stage<A, B>,
  s2: Stage<B, C>,
  s3: Stage<C, D>,
): AsyncIterable<D>;
export function pipe<A, B, C, D, E>(
  source: AnyIterable<A>,
  s1: Stage<A, B>,
  s2: Stage<B, C>,
  s3: Stage<C, D>,
  s4: Stage<D, E>,
): AsyncIterable<E>;
export function pipe<A, B, C, D, E, F>(
  source: AnyIterable<A>,
  s1: Stage<A, B>,
  s2: Stage<B, C>,
  s3: Stage<C, D>,
  s4: Stage<D, E>,
  s5: Stage<E, F>,
): AsyncIterable<F>;
export function pipe<A, B, C, D, E, F, G>(
  source: AnyIterable<A>,
  s1: Stage<A, B>,
  s2: Stage<B, C>,
  s3: Stage<C, D>,
  s4: Stage<D, E>,
  s5: Stage<E, F>,
  s6: Stage<F, G>,
): AsyncIterable<G>;
export function pipe(
  source: AnyIterable<unknown>,
  ...stages: Stage<unknown, unknown>[]
): AnyIterable<unknown>;
export function pipe(
  source: AnyIterable<unknown>,
  ...stages: Stage<unknown, unknown>[]
): AnyIterable<unknown> {
  return stages.reduce<AnyIterable<unknown>>((stream, stage) => stage(stream), source);
}
