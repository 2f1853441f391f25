import { hashString } from "./rng";
import { type AnyIterable, isResumable, type Resumable } from "./types";

/**
 * The held-out split every package uses, named so a checkpoint can record it (`held_out_split` in the
 * run manifests of @laion/vq and @laion/trainer-2b): a run resumed under another split would evaluate on
 * samples it trained on. Change the name whenever `isHeldOut` changes.
 */
export const HELD_OUT_SPLIT = "mixer-hash-v1: hashString(source \\0 key) / 2^32 < fraction";

/**
 * Whether `key` of `source` is held out: a pure function of (source, key, fraction), stable across
 * runs, epochs, shard orders and packages — the VQ and the transformer hold out the same images when
 * given the same fraction. `source` salts the hash so sources split independently.
 */
export function isHeldOut(key: string, fraction: number, source = ""): boolean {
  if (!(fraction >= 0 && fraction <= 1))
    throw new RangeError(`held-out fraction must be between 0 and 1, got ${fraction}`);
  return fraction > 0 && hashString(`${source}\u0000${key}`) / 4294967296 < fraction;
}

export interface HeldOutSideOptions<T> {
  /** The sample's key (`s => s.__key__` for the @laion/shards readers). */
  keyOf: (item: T) => string;
  fraction: number;
  source?: string;
  /** Which side to keep: the held-out samples (evaluation) or the rest (training). */
  side: "held-out" | "train";
}

/**
 * One side of the held-out split of a stream. The filter keeps no state of its own (the split is a pure
 * function of the key), so a Resumable reader's `state()` — taken just past the last sample yielded — is
 * the filtered stream's too: a resumed run restores it and the reader seeks instead of replaying.
 */
export function heldOutSide<T>(
  reader: AnyIterable<T> & Resumable,
  opts: HeldOutSideOptions<T>,
): AsyncIterable<T> & Resumable;
export function heldOutSide<T>(reader: AnyIterable<T>, opts: HeldOutSideOptions<T>): AsyncIterable<T>;
export function heldOutSide<T>(reader: AnyIterable<T>, opts: HeldOutSideOptions<T>): AsyncIterable<T> {
  const keep = opts.side === "held-out";
  isHeldOut("", opts.fraction); // a bad fraction fails here, not at the first sample
  const side: AsyncIterable<T> = {
    async *[Symbol.asyncIterator]() {
      for await (const item of reader)
        if (isHeldOut(opts.keyOf(item), opts.fraction, opts.source) === keep) yield item;
    },
  };
  if (!isResumable(reader)) return side;
  return Object.assign(side, { state: () => reader.state(), restore: (s: unknown) => reader.restore(s) });
}
