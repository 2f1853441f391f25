/**
 * Which part of the shard list this reader takes: by node (`rank` of `worldSize`) and/or by
 * data-loader worker (`workerId` of `numWorkers`). Reader r of R takes shards i with i % R === r,
 * where R = worldSize × numWorkers and r = rank × numWorkers + workerId, so the parts are
 * disjoint and together cover every shard.
 */
export interface SplitOptions {
  rank?: number;
  worldSize?: number;
  workerId?: number;
  numWorkers?: number;
}

/** Index and count of this reader among all readers; throws naming the bad field. */
export function splitSlot(split: SplitOptions | undefined): { index: number; count: number } {
  const rank = split?.rank ?? 0;
  const worldSize = split?.worldSize ?? 1;
  const workerId = split?.workerId ?? 0;
  const numWorkers = split?.numWorkers ?? 1;
  checkPart("rank", rank, "worldSize", worldSize);
  checkPart("workerId", workerId, "numWorkers", numWorkers);
  return { index: rank * numWorkers + workerId, count: worldSize * numWorkers };
}

function checkPart(indexName: string, index: number, countName: string, count: number): void {
  if (!Number.isInteger(count) || count < 1) {
    throw new Error(`split.${countName} must be an integer ≥ 1, got ${count}`);
  }
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new Error(
      `split.${indexName} must be an integer in [0, ${count - 1}] (${countName} = ${count}), got ${index}`,
    );
  }
}

/** The items this reader takes (every count-th, starting at index). */
export function takeSplit<T>(items: readonly T[], slot: { index: number; count: number }): T[] {
  return items.filter((_, i) => i % slot.count === slot.index);
}
