import os from "node:os";
import path from "node:path";
import {
  acquireOutputLock,
  manifestDifferences,
  moveAside,
  OutputChangedError,
  type OutputLock,
} from "@laion/cli-kit";
import type { DownloadParams } from "./download-params.js";
import { DownloadRun, type RunContext, removeStaleShards } from "./download-run.js";
import { openInput } from "./input.js";
import { shardName } from "./key.js";
import { validateResizeParams } from "./resize.js";
import {
  DOWNLOAD_FLAGS,
  downloadInputs,
  downloadManifestParams,
  manifestName,
  newDownloadManifest,
  readDownloadManifest,
} from "./run-manifest.js";
import { shardFiles } from "./shard-writer.js";
import { addStats, finishStats, type RunStats, type ShardStats } from "./stats.js";
import { openStorage, type ShardStorage } from "./storage.js";
import { resolveWorkerSlot, type WorkerSlot } from "./workers.js";

/** The run finished and wrote its shards, but too few images were downloaded to call it done. */
export class DownloadFailedError extends Error {
  override name = "DownloadFailedError";
  constructor(
    message: string,
    /** What the run did (also in stats.json). */
    readonly stats: RunStats,
  ) {
    super(message);
  }
}

export function defaultConcurrency(): number {
  return Math.min(256, 16 * os.availableParallelism());
}

function runStatsName(workerIndex: number, workerCount: number): string {
  return workerCount === 1 ? "stats.json" : `stats_worker_${workerIndex}_of_${workerCount}.json`;
}

function checkParams(params: DownloadParams, shardSize: number, concurrency: number): void {
  if (!params.output) throw new Error("no output given: a folder or s3://bucket/prefix");
  if (!Number.isInteger(shardSize) || shardSize < 1)
    throw new Error(`shard size must be an integer ≥ 1, got ${shardSize}`);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new Error(`concurrency must be an integer ≥ 1, got ${concurrency}`);
  if (params.splitBy !== undefined && params.splitBy !== "shard" && params.splitBy !== "file")
    throw new Error(`--split-by must be shard or file, got ${JSON.stringify(params.splitBy)}`);
  const rate = params.minSuccessRate ?? 0;
  if (!(rate >= 0 && rate <= 1)) throw new Error(`--min-success-rate must be from 0 to 1, got ${rate}`);
  validateResizeParams(params);
}

/**
 * Downloads the images of the input's URLs into img2dataset-compatible webdataset shards (see README):
 * reader → downloader → resizer → writer, `concurrency` samples in flight, shards written to temporary
 * names and renamed when complete. Rerunning the same call after a crash skips finished shards and
 * rewrites the others, giving the same keys. Resolves with the stats also written to `stats.json`.
 */
export async function downloadShards(params: DownloadParams): Promise<RunStats> {
  const shardSize = params.shardSize ?? 10_000;
  const concurrency = params.concurrency ?? defaultConcurrency();
  checkParams(params, shardSize, concurrency);
  const slot = resolveWorkerSlot(params, params.env);
  const startTime = Date.now() / 1000;

  // Everything that can be wrong with the input or the output fails here, before the first download.
  const input = await openInput(params);
  const { storage, lock } = await claimOutput(params, slot);
  try {
    return await downloadInto(params, { input, storage, slot, shardSize, concurrency, startTime });
  } finally {
    lock?.release();
  }
}

/**
 * Takes the output for this worker: its lock (one writer per worker index on a local folder), then the
 * manifest check — the same request resumes, a different one is refused or, with `overwrite`, the old
 * output is moved aside. Only then are a killed run's temp files removed (they are ours: we hold the lock).
 */
async function claimOutput(
  params: DownloadParams,
  slot: WorkerSlot,
): Promise<{ storage: ShardStorage; lock: OutputLock | null }> {
  const local = !params.output.startsWith("s3://");
  const purpose = `download-laion-images worker ${slot.workerIndex} of ${slot.workerCount}`;
  const lockFile = path.join(params.output, `.lock-worker-${slot.workerIndex}`);
  let storage: ShardStorage = openStorage(params);
  await storage.probe();
  let lock = local
    ? acquireOutputLock(lockFile, { purpose, ...(params.onLog ? { onLog: params.onLog } : {}) })
    : null;
  try {
    const recorded = await readDownloadManifest(storage, slot);
    const differences = recorded
      ? manifestDifferences(recorded, downloadManifestParams(params), downloadInputs(params))
      : [];
    if (differences.length > 0) {
      if (!params.overwrite) throw new OutputChangedError(storage.location, differences, DOWNLOAD_FLAGS);
      if (!local || slot.workerCount > 1)
        throw new OutputChangedError(storage.location, differences, DOWNLOAD_FLAGS);
      lock?.release();
      const aside = moveAside(params.output);
      params.onLog?.(`settings changed; the earlier output is kept as ${aside}`);
      storage = openStorage(params);
      await storage.probe();
      lock = acquireOutputLock(lockFile, { purpose, ...(params.onLog ? { onLog: params.onLog } : {}) });
    }
    const manifest = newDownloadManifest(params);
    await storage.put(manifestName(slot), `${JSON.stringify(manifest, null, 2)}\n`);
  } catch (err) {
    lock?.release();
    throw err;
  }
  return { storage, lock };
}

/** One worker's run: clear a killed run's temp files, download, then record what was done. */
async function downloadInto(params: DownloadParams, ctx: RunContext): Promise<RunStats> {
  await removeStaleShards(ctx.storage, ctx.slot);
  const run = new DownloadRun(params, ctx);
  await run.run();
  const stats = await runTotals(run, ctx);
  await recordRun(params, ctx, stats, run.owned);
  params.onProgress?.({ ...run.progress, shards_skipped: run.skipped.size });
  if (run.retried > 0)
    params.onLog?.(
      `${run.retried} finished shard(s) had transient failures (network, 5xx, 429) and were downloaded again`,
    );
  checkSuccess(stats, params.minSuccessRate ?? 0);
  return stats;
}

/** This worker's stats: the shards written now plus those finished earlier, so stats.json covers its whole share. */
async function runTotals(run: DownloadRun, ctx: RunContext): Promise<RunStats> {
  const { storage, slot } = ctx;
  for (const id of [...run.skipped].sort((a, b) => a - b)) {
    const text = await storage.read(shardFiles(shardName(id)).stats);
    addStats(run.total, JSON.parse(text) as ShardStats);
  }
  finishStats(run.total, Date.now() / 1000);
  return {
    ...run.total,
    shards_written: run.progress.shards_written,
    shards_skipped: run.skipped.size,
    worker_index: slot.workerIndex,
    worker_count: slot.workerCount,
    output: storage.location,
  };
}

/** Writes the run's stats.json and marks its manifest complete, naming the shards of its share. */
async function recordRun(
  params: DownloadParams,
  ctx: RunContext,
  stats: RunStats,
  owned: ReadonlySet<number>,
): Promise<void> {
  const { storage, slot } = ctx;
  await storage.put(runStatsName(slot.workerIndex, slot.workerCount), `${JSON.stringify(stats, null, 4)}\n`);
  const manifest = {
    ...newDownloadManifest(params),
    complete: true,
    finished_at: new Date().toISOString(),
    result: {
      shards: [...owned].sort((a, b) => a - b).map((id) => shardName(id)),
      count: stats.count,
      successes: stats.successes,
    },
  };
  await storage.put(manifestName(slot), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** A run that downloaded nothing (or less than asked) is not done: the shards stay, and a rerun retries. */
function checkSuccess(stats: RunStats, minSuccessRate: number): void {
  if (stats.count === 0) return;
  const rate = stats.successes / stats.count;
  if (stats.successes > 0 && rate >= minSuccessRate) return;
  const reasons = Object.entries(stats.status_dict)
    .filter(([k]) => k !== "success")
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([k, n]) => `${n}× ${k}`)
    .join("; ");
  const what = `${stats.successes} of ${stats.count} images downloaded`;
  throw new DownloadFailedError(
    stats.successes === 0
      ? `${what}: is the network up? (${reasons}). Rerun the same command to retry the transient failures.`
      : `${what} (${(100 * rate).toFixed(1)} %), below --min-success-rate ${minSuccessRate} (${reasons}). ` +
          `Rerun the same command to retry the transient failures.`,
    stats,
  );
}
