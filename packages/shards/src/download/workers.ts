/**
 * Scale-out by shard: worker I of N owns the shards whose id ≡ I (mod N). Every worker reads the same input
 * and keys, so the subsets are disjoint, cover every shard, and need no coordination — run N copies of the
 * same command (a Kubernetes Indexed Job sets JOB_COMPLETION_INDEX in each pod).
 */
export interface WorkerSlot {
  workerIndex: number;
  workerCount: number;
}

export function ownsShard(shardId: number, slot: WorkerSlot): boolean {
  return shardId % slot.workerCount === slot.workerIndex;
}

/**
 * The worker slot from explicit values, else from `JOB_COMPLETION_INDEX` (with an explicit count), else 0 of 1;
 * errors name the flag or variable and the allowed range.
 */
export function resolveWorkerSlot(
  params: { workerIndex?: number; workerCount?: number },
  env: NodeJS.ProcessEnv = process.env,
): WorkerSlot {
  const workerCount = params.workerCount ?? 1;
  if (!Number.isInteger(workerCount) || workerCount < 1)
    throw new Error(`--worker-count must be an integer ≥ 1, got ${workerCount}`);
  let workerIndex = params.workerIndex;
  let source = "--worker-index";
  if (workerIndex === undefined && env.JOB_COMPLETION_INDEX !== undefined && workerCount > 1) {
    source = "JOB_COMPLETION_INDEX";
    workerIndex = /^\d+$/.test(env.JOB_COMPLETION_INDEX) ? Number(env.JOB_COMPLETION_INDEX) : Number.NaN;
  }
  workerIndex ??= 0;
  if (!Number.isInteger(workerIndex) || workerIndex < 0 || workerIndex >= workerCount)
    throw new Error(
      `${source} must be an integer from 0 to ${workerCount - 1} (--worker-count ${workerCount}), got ${
        source === "JOB_COMPLETION_INDEX" ? JSON.stringify(env.JOB_COMPLETION_INDEX) : workerIndex
      }`,
    );
  return { workerIndex, workerCount };
}
