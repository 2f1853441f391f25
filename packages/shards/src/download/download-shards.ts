import { createHash } from "node:crypto";
import os from "node:os";
import { createImageFetcher, type HttpParams, type ImageFetcher } from "./http.js";
import { type InputParams, type InputRow, openInput } from "./input.js";
import { computeKey, SHARD_DIGITS, shardName } from "./key.js";
import { type ResizeParams, resizeImage, validateResizeParams } from "./resize.js";
import type { SampleMeta, SampleRecord, SampleStatus } from "./sample-meta.js";
import { createWebDatasetWriter, isShardComplete, type SampleWriter, shardFiles } from "./shard-writer.js";
import { addStats, countSample, emptyStats, finishStats, type RunStats, type ShardStats } from "./stats.js";
import { type OutputParams, openStorage, type ShardStorage } from "./storage.js";
import { ownsShard, resolveWorkerSlot } from "./workers.js";

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
  const storage: ShardStorage = openStorage(params);
  await storage.probe();
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
  const isComplete = (id: number) => {
    let p = complete.get(id);
    if (!p) {
      p = isShardComplete(storage, shardName(id));
      complete.set(id, p);
    }
    return p;
  };
  const wantShard = async (id: number) => {
    if (!ownsShard(id, slot)) return false;
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
  params.onProgress?.({ ...progress });
  return stats;
}
