import { createRng, seedFrom, shuffleInPlace } from "@laion/mixer";
import { takeSplit } from "./split.js";

// Tags that keep the shard, sample and resample streams independent for the same seed.
const SHARD_STREAM = 1;
const SAMPLE_STREAM = 2;
const RESAMPLE_STREAM = 3;

/** Who is reading and with which seed: everything a reader's sample order depends on, besides the shard list. */
export interface OrderKey {
  seed: number;
  epoch: number;
  /** This reader's index among all readers (rank × numWorkers + workerId) and the reader count. */
  slot: { index: number; count: number };
}

/**
 * A reader's shard sequence as a function of position, so a resumed reader starts at any
 * position without drawing the ones before it (MosaicML streaming's idea: the order is a pure
 * function of seed, epoch and index; no generator state is saved).
 */
export interface ShardOrder {
  /** Number of positions (Infinity when resampling). */
  length: number;
  /** The shard read at `position` (0 ≤ position < length). */
  at(position: number): string;
}

/**
 * The shard order of one reader. Without resample: the (optionally shuffled, identically on
 * every reader) list, then every `slot.count`-th shard from `slot.index`. With resample: the
 * shard at position p is drawn uniformly with a generator seeded by (seed, epoch, reader, p).
 */
export function shardOrder(
  shards: readonly string[],
  key: OrderKey,
  options: { shuffleShards?: boolean; resample?: boolean },
): ShardOrder {
  const { seed, epoch, slot } = key;
  if (options.resample) {
    return {
      length: Number.POSITIVE_INFINITY,
      at: (p) =>
        shards[
          createRng(seedFrom(seed, epoch, RESAMPLE_STREAM, slot.index, p)).nextInt(shards.length)
        ] as string,
    };
  }
  const list = options.shuffleShards
    ? shuffleInPlace(shards.slice(), createRng(seedFrom(seed, epoch, SHARD_STREAM)))
    : shards;
  const mine = takeSplit(list, slot);
  return { length: mine.length, at: (p) => mine[p] as string };
}

/**
 * The sample-level shuffle, resumable by construction: the samples of the shard at `position`
 * are cut into blocks of `blockSize` consecutive samples and each block is permuted with a
 * generator seeded by (seed, epoch, reader, position, block). Memory stays bounded by one block,
 * and the output index → sample mapping needs nothing but these numbers, so a resume rebuilds
 * exactly one block of the one shard it stops in.
 *
 * `skip` samples of the permuted output are dropped (a resume inside the shard): whole blocks
 * before it are read and discarded without being held.
 * If the shard fails part-way, the samples of the incomplete block read so far are still
 * handed out (permuted) before the error, so an error handler that goes on loses nothing readable.
 */
export async function* permutedBlocks<T>(
  samples: AsyncIterable<T>,
  params: { key: OrderKey; position: number; blockSize: number; skip: number },
): AsyncGenerator<T> {
  const { key, position, blockSize, skip } = params;
  const firstBlock = Math.floor(skip / blockSize);
  let toDiscard = firstBlock * blockSize;
  let block: T[] = [];
  let index = firstBlock;
  const emit = function* (items: T[]): Generator<T> {
    const seed = seedFrom(key.seed, key.epoch, SAMPLE_STREAM, key.slot.index, position, index);
    shuffleInPlace(items, createRng(seed));
    const from = index === firstBlock ? skip - firstBlock * blockSize : 0;
    for (let i = from; i < items.length; i++) yield items[i] as T;
  };
  try {
    for await (const sample of samples) {
      if (toDiscard > 0) {
        toDiscard--;
        continue;
      }
      block.push(sample);
      if (block.length === blockSize) {
        yield* emit(block);
        block = [];
        index++;
      }
    }
  } catch (error) {
    if (block.length > 0) yield* emit(block);
    throw error;
  }
  if (block.length > 0) yield* emit(block);
}

/** Drops the first `skip` items (a resume inside an unshuffled shard). */
export async function* skipped<T>(samples: AsyncIterable<T>, skip: number): AsyncGenerator<T> {
  let left = skip;
  for await (const sample of samples) {
    if (left > 0) left--;
    else yield sample;
  }
}
