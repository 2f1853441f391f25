import { type Mixed, type Mixer, mix } from "./mix";
import { deriveSeed } from "./rng";
import type { MixState, OnExhausted, Source, SourceSpec, StopWhen } from "./types";

export interface LaionMixtureSources<L, T, I> {
  /** LAION image–caption pairs; `null` when no LAION path is configured (then laionProb must be 0). */
  laion: Source<L> | null;
  /** Text-only examples (e.g. a Sinhala corpus). */
  text: Source<T> | null;
  /** The user's own captioned images. */
  local: Source<I> | null;
}

export interface LaionMixtureOptions {
  /** `training.laion_prob`: the fraction of steps that take a LAION pair. */
  laionProb: number;
  /** `training.text_only_prob`: of the remaining steps, the fraction that are text-only. */
  textOnlyProb: number;
  seed: number;
  stopWhen: StopWhen;
  onExhausted?: OnExhausted;
  resume?: MixState;
}

export type LaionMixed<L, T, I> = Mixed<"laion", L> | Mixed<"text", T> | Mixed<"local", I>;

function checkProb(flag: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new Error(`laionMixture: ${flag} must be a number in [0, 1]; got ${String(value)}`);
  }
  return value;
}

/**
 * The training config's semantics: with probability `laionProb` (p) a step is a LAION pair; otherwise it
 * comes from the base mixture, where `textOnlyProb` (t) of steps are text-only and the rest local images.
 * Fractions: LAION p, text (1-p)·t, local (1-p)·(1-t).
 *
 * Built as a nested mixture (LAION vs base(text, local)) rather than a flat one with product weights:
 * the draws have the same distribution, but when text or local runs out and is dropped, LAION keeps
 * exactly p of the steps (a flat mixture would renormalise LAION upwards). A source whose weight is 0
 * (LAION when p = 0, text when t = 0, …) is left out and never opened; `null` is allowed only there.
 */
export function laionMixture<L, T, I>(
  sources: LaionMixtureSources<L, T, I>,
  options: LaionMixtureOptions,
): Mixer<LaionMixed<L, T, I>> {
  const p = checkProb("laionProb", options.laionProb);
  const t = checkProb("textOnlyProb", options.textOnlyProb);
  const need = (name: "laion" | "text" | "local", weight: number): void => {
    if (weight > 0 && sources[name] === null) {
      throw new Error(
        `laionMixture: the ${name} source is null, but its share of steps is ${weight} (laionProb=${p}, textOnlyProb=${t})`,
      );
    }
  };
  need("laion", p);
  need("text", (1 - p) * t);
  need("local", (1 - p) * (1 - t));

  const { seed, stopWhen, onExhausted } = options;
  const outer: SourceSpec<string, unknown>[] = [];
  if (p > 0) outer.push({ name: "laion", weight: p, source: sources.laion as Source<L> });
  if (p < 1) {
    const inner: SourceSpec<string, unknown>[] = [];
    if (t > 0) inner.push({ name: "text", weight: t, source: sources.text as Source<T> });
    if (t < 1) inner.push({ name: "local", weight: 1 - t, source: sources.local as Source<I> });
    const base = mix(inner, { seed: deriveSeed(seed, 1), stopWhen, ...(onExhausted ? { onExhausted } : {}) });
    // The base mixture is a single-use iterable: when it ends (its own stop rule said so) it is dropped.
    outer.push({ name: "base", weight: 1 - p, source: base, onExhausted: "drop" });
  }
  const mixer = mix(outer, { seed, stopWhen, ...(onExhausted ? { onExhausted } : {}) });
  if (options.resume !== undefined) mixer.restore(options.resume);
  return flattened<LaionMixed<L, T, I>>(mixer);
}

/** Presents the nested `{ source: "base", item: { source: "text", item } }` as `{ source: "text", item }`. */
function flattened<T>(mixer: Mixer<Mixed>): Mixer<T> {
  return {
    state: () => mixer.state(),
    restore: (state) => mixer.restore(state),
    async *[Symbol.asyncIterator]() {
      for await (const step of mixer) {
        yield (step.source === "base" ? step.item : step) as T;
      }
    },
  };
}

/**
 * The one default of `laion_prob` (the VQ's and the trainer's share of LAION samples when LAION is
 * given): packages resolve an unset value to this at their entry points, configs state it only to differ.
 */
export const DEFAULT_LAION_PROB = 0.5;
