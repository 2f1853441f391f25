/** Anything the mixer and the stream helpers accept as input. Sync iterables are taken item by item, as-is. */
export type AnyIterable<T> = AsyncIterable<T> | Iterable<T>;

/** Where a factory source is asked to start: `pass` counts restarts (0 for the first pass). */
export interface SourceContext {
  pass: number;
}

/**
 * A mixture input: an iterable (used once), or a factory that opens a fresh iterable
 * (called lazily on first use, and again on each restart with the pass number, e.g. to reseed a shuffle).
 */
export type Source<T> = AnyIterable<T> | ((context: SourceContext) => AnyIterable<T>);

/** What the mixer does when a source ends before the mixture stops. */
export type OnExhausted = "drop" | "restart";

/** When the mixture ends; see docs/mixing.md for the exact rules. */
export type StopWhen = "first_exhausted" | "all_exhausted" | "never";

export interface SourceSpec<N extends string = string, T = unknown> {
  name: N;
  /** A finite number ≥ 0; weights need not sum to 1. Weight 0 means the source is never opened. */
  weight: number;
  source: Source<T>;
  /** Overrides the mixture's `onExhausted` for this source. */
  onExhausted?: OnExhausted;
}

/**
 * A source that can report where it is and be put back there, so that resuming a mixture
 * does not replay it. Mixers implement it (that is how nested mixtures resume); `seekable()`
 * builds one from an `(offset) => iterable` function. `restore` is called before iteration starts.
 */
export interface Resumable<S = unknown> {
  state(): S;
  restore(state: S): void;
}

export function isResumable(x: unknown): x is Resumable {
  return (
    typeof x === "object" &&
    x !== null &&
    typeof (x as Partial<Resumable>).state === "function" &&
    typeof (x as Partial<Resumable>).restore === "function"
  );
}

/** Per-source part of a mixture's state. */
export interface SourceState {
  /** How many times this source has been restarted. */
  pass: number;
  /** Items taken from the current pass (what a replaying resume skips). */
  consumed: number;
  /** Items taken over all passes. */
  total: number;
  /** The source has reached its end at least once. */
  exhausted: boolean;
  /** The source has been removed from the draw (dropped after its end, or an empty restart). */
  dropped: boolean;
  /** The state of a `Resumable` source (e.g. a nested mixture), restored instead of replaying. */
  nested?: unknown;
}

/** A mixture's complete state: small, plain JSON. */
export interface MixState {
  version: 1;
  seed: number;
  /** The PRNG state after the last draw. */
  rng: [number, number, number, number];
  /** Items yielded so far. */
  steps: number;
  /** Whether the mixture has ended (a resumed mixture then yields nothing). */
  ended: boolean;
  sources: Record<string, SourceState>;
}
