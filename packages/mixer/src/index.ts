export { type BatchOptions, batch } from "./batch";
export { HELD_OUT_SPLIT, type HeldOutSideOptions, heldOutSide, isHeldOut } from "./held-out";
export { interleave } from "./interleave";
export {
  DEFAULT_LAION_PROB,
  type LaionMixed,
  type LaionMixtureOptions,
  type LaionMixtureSources,
  laionMixture,
} from "./laion-mixture";
export { type MapOptions, map } from "./map";
export { type Mixed, type Mixer, type MixOptions, type MixOutput, mix } from "./mix";
export { pipe } from "./pipe";
export { prefetch } from "./prefetch";
export { Random } from "./random";
export {
  createRng,
  deriveSeed,
  fmix32,
  hashString,
  type Rng,
  type RngState,
  seedFrom,
  shuffleInPlace,
} from "./rng";
export { type SeekableState, seekable } from "./seekable";
export { shuffle } from "./shuffle";
export type { Stage } from "./stage";
export { take } from "./take";
export {
  type AnyIterable,
  isResumable,
  type MixState,
  type OnExhausted,
  type Resumable,
  type Source,
  type SourceContext,
  type SourceSpec,
  type SourceState,
  type StopWhen,
} from "./types";
