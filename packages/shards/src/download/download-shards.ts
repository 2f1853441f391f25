import { createHash } from "node:crypto";
import os from "node:os";
import path from "node:path";
import {
  acquireOutputLock,
  manifestDifferences,
  moveAside,
  OutputChangedError,
  type OutputLock,
} from "@laion/cli-kit";
import { createImageFetcher, type HttpParams, type ImageFetcher } from "./http.js";
import { type InputParams, type InputRow, openInput } from "./input.js";
import { computeKey, SHARD_DIGITS, shardName } from "./key.js";
import { type ResizeParams, resizeImage, validateResizeParams } from "./resize.js";
import {
  DOWNLOAD_FLAGS,
  downloadInputs,
  downloadManifestParams,
  finishedShardStats,
  manifestName,
  newDownloadManifest,
  readDownloadManifest,
  transientFailures,
} from "./run-manifest.js";
import type { SampleMeta, SampleRecord, SampleStatus } from "./sample-meta.js";
import { createWebDatasetWriter, type SampleWriter, shardFiles } from "./shard-writer.js";
import { addStats, countSample, emptyStats, finishStats, type RunStats, type ShardStats } from "./stats.js";
import { type OutputParams, openStorage, type ShardStorage } from "./storage.js";
import { ownsShard, resolveWorkerSlot, type WorkerSlot } from "./workers.js";

export interface DownloadProgress {
  /** Samples finished in this run (any status). */
  done: number;
  successes: number;
  failed_to_download: number;
  failed_to_resize: number;
  shards_written: number;
  shards_skipped: number;
  /** Total rows of the input when known (parquet), for a bar with an ETA. */
  total_rows?: number;
}

export interface DownloadParams extends InputParams, ResizeParams, HttpParams, OutputParams {
  /** Samples per shard (img2dataset's number_sample_per_shard). Default 10000. */
  shardSize?: number;
  /** Samples downloaded and resized at once. Default min(256, 16 × available cores). */
  concurrency?: number;
  /** This worker's index, 0-based (default: JOB_COMPLETION_INDEX when workerCount > 1, else 0). */
  workerIndex?: number;
  /** How many workers split the shards. Default 1. */
  workerCount?: number;
  /** Called after every sample (cheap; throttle display yourself). */
  onProgress?: (progress: DownloadProgress) => void;
  /** Stops the run: open shards are discarded (never half-written), finished ones stay. */
  signal?: AbortSignal;
  /** Environment for JOB_COMPLETION_INDEX (default process.env). */
  env?: NodeJS.ProcessEnv;
  /**
   * The output holds shards made with other output-affecting parameters or another input: move it
   * aside to `<output>.prev-<n>` and start over (local outputs only). Without it such a rerun is
   * refused with an OutputChangedError listing the differences.
   */
  overwrite?: boolean;
  /** Fail (after writing everything) when fewer than this fraction of the samples succeeded. Default 0; a run where no image succeeded always fails. */
  minSuccessRate?: number;
  /** Notices for the user: a stale lock taken over, shards re-attempted, an output moved aside. */
  onLog?: (message: string) => void;
}

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

interface OpenShard {
  id: number;
  name: string;
  writer: SampleWriter;
  stats: ShardStats;
  tasks: Promise<void>[];
  /** Writes of one shard go through one queue, so a sample's members stay together in the tar. */
  queue: Promise<void>;
}

/** A counting semaphore: caps the samples in flight, and with them memory and open sockets. */
function semaphore(size: number) {
  let free = size;
  const waiting: (() => void)[] = [];
  return {
    acquire: (): Promise<void> => {
      if (free > 0) {
        free--;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    release: () => {
      const next = waiting.shift();
      if (next) next();
      else free++;
    },
  };
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
  const rate = params.minSuccessRate ?? 0;
  if (!(rate >= 0 && rate <= 1)) throw new Error(`--min-success-rate must be from 0 to 1, got ${rate}`);
  validateResizeParams(params);
}

/** Downloads one row: fetch → hash → resize. Every failure becomes a status, never an exception. */
async function processRow(
  row: InputRow,
  key: string,
  fetcher: ImageFetcher,
  resize: ResizeParams,
  hasCaptions: boolean,
): Promise<SampleRecord> {
  const meta: SampleMeta = {
    ...row.extra,
    ...(hasCaptions ? { caption: row.caption } : {}),
    url: row.url,
    key,
    status: "success",
    error_message: null,
    width: null,
    height: null,
    original_width: null,
    original_height: null,
    sha256: null,
  };
  const fail = (status: SampleStatus, error: string): SampleRecord => {
    meta.status = status;
    meta.error_message = error;
    return { meta, caption: row.caption };
  };
  const fetched = await fetcher.fetch(row.url);
  if (!fetched.ok) return fail("failed_to_download", fetched.error);
  const resized = await resizeImage(fetched.bytes, resize);
  if (!resized.ok) return fail("failed_to_resize", resized.error);
  meta.width = resized.width;
  meta.height = resized.height;
  meta.original_width = resized.originalWidth;
  meta.original_height = resized.originalHeight;
  meta.sha256 = createHash("sha256").update(fetched.bytes).digest("hex");
  return { meta, caption: row.caption, image: resized.bytes };
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

interface RunContext {
  input: Awaited<ReturnType<typeof openInput>>;
  storage: ShardStorage;
  slot: WorkerSlot;
  shardSize: number;
  concurrency: number;
  startTime: number;
}

async function downloadInto(params: DownloadParams, ctx: RunContext): Promise<RunStats> {
  const { input, storage, slot, shardSize, concurrency, startTime } = ctx;
  await storage.removeStale((name) => {
    const id = /^(\d+)(?:\.tar|\.parquet|_stats\.json)$/.exec(name)?.[1];
    return id !== undefined && ownsShard(Number(id), slot);
  });

  const resize: ResizeParams = params;
  const encodeFormat = params.encodeFormat ?? "jpg";
  const total = emptyStats(startTime);
  const progress: DownloadProgress = {
    done: 0,
    successes: 0,
    failed_to_download: 0,
    failed_to_resize: 0,
    shards_written: 0,
    shards_skipped: 0,
    ...(input.rowCount !== undefined ? { total_rows: input.rowCount } : {}),
  };

  const complete = new Map<number, Promise<boolean>>();
  const skipped = new Set<number>();
  const owned = new Set<number>();
  let retried = 0;
  // finished shards are skipped, unless samples in them failed for a transient reason: those are redone
  const isComplete = (id: number) => {
    let p = complete.get(id);
    if (!p) {
      p = finishedShardStats(storage, shardName(id)).then((stats) => {
        if (!stats) return false;
        if (transientFailures(stats) === 0) return true;
        retried++;
        return false;
      });
      complete.set(id, p);
    }
    return p;
  };
  const wantShard = async (id: number) => {
    if (!ownsShard(id, slot)) return false;
    owned.add(id);
    if (await isComplete(id)) {
      skipped.add(id);
      return false;
    }
    return true;
  };

  const fetcher = createImageFetcher(params);
  const sem = semaphore(concurrency);
  const open = new Map<number, OpenShard>();
  const finishing: Promise<void>[] = [];
  let failure: unknown;
  const failed = (err: unknown) => {
    failure ??= err;
  };

  const finishShard = async (shard: OpenShard) => {
    await Promise.all(shard.tasks);
    await shard.queue;
    if (failure) return;
    finishStats(shard.stats, Date.now() / 1000);
    await shard.writer.close(shard.stats);
    open.delete(shard.id);
    addStats(total, shard.stats);
    progress.shards_written++;
    params.onProgress?.({ ...progress });
  };

  const onAbort = () => failed(params.signal?.reason ?? new Error("download aborted"));
  params.signal?.addEventListener("abort", onAbort, { once: true });
  if (params.signal?.aborted) onAbort();

  let current: OpenShard | undefined;
  let currentId = -1;
  try {
    for await (const row of input.rows({ shardSize, wantShard })) {
      if (failure) break;
      if (row.shardId !== currentId) {
        if (current) finishing.push(finishShard(current).catch(failed));
        currentId = row.shardId;
        current = undefined;
        if (!(await wantShard(row.shardId))) continue;
        const name = shardName(row.shardId);
        current = {
          id: row.shardId,
          name,
          writer: await createWebDatasetWriter({
            storage,
            name,
            encodeFormat,
            saveCaption: input.hasCaptions,
            additionalColumns: input.additionalColumns,
          }),
          stats: emptyStats(Date.now() / 1000),
          tasks: [],
          queue: Promise.resolve(),
        };
        open.set(row.shardId, current);
      }
      if (!current) continue; // a shard that is not ours, or already complete
      await sem.acquire();
      if (failure) {
        sem.release();
        break;
      }
      const shard = current;
      const key = computeKey({
        indexInShard: row.indexInShard,
        shardId: row.shardId,
        shardSize,
        shardDigits: SHARD_DIGITS,
      });
      const task = processRow(row, key, fetcher, resize, input.hasCaptions)
        .then((sample) => {
          shard.queue = shard.queue.then(() => shard.writer.write(sample));
          return shard.queue.then(() => {
            countSample(shard.stats, sample.meta.status, sample.meta.error_message);
            progress.done++;
            if (sample.meta.status === "success") progress.successes++;
            else if (sample.meta.status === "failed_to_download") progress.failed_to_download++;
            else progress.failed_to_resize++;
            params.onProgress?.({ ...progress });
          });
        })
        .catch(failed)
        .finally(sem.release);
      shard.tasks.push(task);
    }
    if (current && !failure) finishing.push(finishShard(current).catch(failed));
    await Promise.all(finishing);
  } catch (err) {
    failed(err);
  } finally {
    params.signal?.removeEventListener("abort", onAbort);
  }

  if (failure) {
    // open shards hold partial data: drop their temporary files; finished shards stay for the rerun
    await Promise.all([...open.values()].flatMap((s) => s.tasks)).catch(() => {});
    await Promise.all([...open.values()].map((s) => s.writer.abort().catch(() => {})));
    fetcher.close();
    throw failure;
  }
  fetcher.close();

  // finished shards from earlier runs count in this worker's totals, so stats.json always covers its whole share
  for (const id of [...skipped].sort((a, b) => a - b)) {
    const text = await storage.read(shardFiles(shardName(id)).stats);
    addStats(total, JSON.parse(text) as ShardStats);
  }
  progress.shards_skipped = skipped.size;
  finishStats(total, Date.now() / 1000);
  const stats: RunStats = {
    ...total,
    shards_written: progress.shards_written,
    shards_skipped: skipped.size,
    worker_index: slot.workerIndex,
    worker_count: slot.workerCount,
    output: storage.location,
  };
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
  params.onProgress?.({ ...progress });
  if (retried > 0)
    params.onLog?.(
      `${retried} finished shard(s) had transient failures (network, 5xx, 429) and were downloaded again`,
    );
  checkSuccess(stats, params.minSuccessRate ?? 0);
  return stats;
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
