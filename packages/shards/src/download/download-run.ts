// One worker's pass over its shards, in named steps: skip the shards finished earlier, stream the
// input's rows into open shards (`concurrency` samples in flight), finish each shard when its rows
// are done, and on any failure drop the open shards' temp files (finished shards stay for a rerun).
import { createHash } from "node:crypto";
import type { DownloadParams, DownloadProgress } from "./download-params.js";
import { createImageFetcher, type ImageFetcher } from "./http.js";
import type { InputRow, openInput } from "./input.js";
import { computeKey, SHARD_DIGITS, shardName } from "./key.js";
import { type ResizeParams, resizeImage } from "./resize.js";
import { finishedShardStats, transientFailures } from "./run-manifest.js";
import type { SampleMeta, SampleRecord, SampleStatus } from "./sample-meta.js";
import { createWebDatasetWriter, type SampleWriter, shardOfFile } from "./shard-writer.js";
import { addStats, countSample, emptyStats, finishStats, type ShardStats } from "./stats.js";
import type { ShardStorage } from "./storage.js";
import { ownsShard, type WorkerSlot } from "./workers.js";

/** What a run works with, settled before the first download. */
export interface RunContext {
  input: Awaited<ReturnType<typeof openInput>>;
  storage: ShardStorage;
  slot: WorkerSlot;
  shardSize: number;
  concurrency: number;
  startTime: number;
}

interface OpenShard {
  id: number;
  name: string;
  writer: SampleWriter;
  stats: ShardStats;
  tasks: Promise<void>[];
  /**
   * The last sample's write: each waits for the one before, so a shard holds its samples in row (key)
   * order whatever order their downloads finish in, and its members stay together in the tar.
   */
  queue: Promise<void>;
}

/**
 * A shard is written in row order, so that a rerun writes the same members and whatever trains on the
 * shards sees the same sequence: samples done before an earlier, slower row wait for it in memory.
 * Reading the next row waits while their images pass REORDER_BYTES, or while rows started past the
 * oldest unwritten one pass REORDER_WINDOW × concurrency. Both are wide because a head that waits for
 * its timeout must not stall the rest: at 4 × concurrency, 2 % of URLs taking 3 s doubled a 600-row
 * run (6.2 → 12.2 s); at these bounds a head stalls reading only after ~64 mean download times.
 */
const REORDER_WINDOW = 64;
const REORDER_BYTES = 256 * 2 ** 20;

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

/** Removes a killed run's temp files of this worker's shards (ours: the caller holds the lock). */
export async function removeStaleShards(storage: ShardStorage, slot: WorkerSlot): Promise<void> {
  await storage.removeStale((name) => {
    const id = shardOfFile(name);
    return id !== undefined && /^\d+$/.test(id) && ownsShard(Number(id), slot);
  });
}

/**
 * The shards a run writes: `run()` streams the rows, then `total`, `progress`, `owned`, `skipped` and
 * `retried` say what it did. One object, because every step shares the open shards and the first failure.
 */
export class DownloadRun {
  /** Totals over the shards this run finished. */
  readonly total: ShardStats;
  readonly progress: DownloadProgress;
  /** Every shard of this worker's share, written now or earlier. */
  readonly owned = new Set<number>();
  /** Shards found complete from an earlier run. */
  readonly skipped = new Set<number>();
  /** Finished shards redone because samples in them failed for a transient reason. */
  retried = 0;
  private readonly complete = new Map<number, Promise<boolean>>();
  private readonly open = new Map<number, OpenShard>();
  private readonly finishing: Promise<void>[] = [];
  private readonly fetcher: ImageFetcher;
  private readonly sem: ReturnType<typeof semaphore>;
  // rows started and not yet written (REORDER_WINDOW), and the bytes of those done and waiting
  private readonly window: ReturnType<typeof semaphore>;
  private waitingBytes = 0;
  // readRows, waiting for the bytes to fall under REORDER_BYTES (it is the only waiter)
  private wakeReader: (() => void) | undefined;
  private failure: unknown;

  constructor(
    private readonly params: DownloadParams,
    private readonly ctx: RunContext,
  ) {
    this.total = emptyStats(ctx.startTime);
    this.progress = {
      done: 0,
      successes: 0,
      failed_to_download: 0,
      failed_to_resize: 0,
      shards_written: 0,
      shards_skipped: 0,
      ...(ctx.input.rowCount !== undefined ? { total_rows: ctx.input.rowCount } : {}),
    };
    this.fetcher = createImageFetcher(params);
    this.sem = semaphore(ctx.concurrency);
    this.window = semaphore(REORDER_WINDOW * ctx.concurrency);
  }

  /** Downloads every row of this worker's unfinished shards; rejects with the first failure. */
  async run(): Promise<void> {
    const { signal } = this.params;
    const onAbort = () => this.fail(signal?.reason ?? new Error("download aborted"));
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) onAbort();
    try {
      await this.readRows();
    } catch (err) {
      this.fail(err);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    if (this.failure) {
      await this.abortOpenShards();
      throw this.failure;
    }
    this.fetcher.close();
  }

  /** The first failure wins; later ones are consequences of it. */
  private readonly fail = (err: unknown) => {
    this.failure ??= err;
  };

  /** Rows arrive grouped by shard: a new shard id finishes the previous shard and opens the next. */
  private async readRows(): Promise<void> {
    const { input, shardSize } = this.ctx;
    let current: OpenShard | undefined;
    let currentId = -1;
    const fileSplit = this.params.splitBy === "file" ? { fileSplit: this.ctx.slot } : {};
    for await (const row of input.rows({ shardSize, wantShard: (id) => this.wantShard(id), ...fileSplit })) {
      if (this.failure) break;
      if (row.shardId !== currentId) {
        if (current) this.finishing.push(this.finishShard(current).catch(this.fail));
        currentId = row.shardId;
        current = (await this.wantShard(row.shardId)) ? await this.openShard(row.shardId) : undefined;
      }
      if (!current) continue; // a shard that is not ours, or already complete
      while (this.waitingBytes > REORDER_BYTES && !this.failure)
        await new Promise<void>((resolve) => {
          this.wakeReader = resolve;
        });
      await this.window.acquire();
      await this.sem.acquire();
      if (this.failure) {
        this.sem.release();
        this.window.release();
        break;
      }
      current.tasks.push(this.downloadRow(current, row));
    }
    if (current && !this.failure) this.finishing.push(this.finishShard(current).catch(this.fail));
    await Promise.all(this.finishing);
  }

  /** Finished shards are skipped, unless samples in them failed for a transient reason: those are redone. */
  private isComplete(id: number): Promise<boolean> {
    let p = this.complete.get(id);
    if (!p) {
      p = finishedShardStats(this.ctx.storage, shardName(id)).then((stats) => {
        if (!stats) return false;
        if (transientFailures(stats) === 0) return true;
        this.retried++;
        return false;
      });
      this.complete.set(id, p);
    }
    return p;
  }

  private async wantShard(id: number): Promise<boolean> {
    if (!ownsShard(id, this.ctx.slot)) return false;
    this.owned.add(id);
    if (await this.isComplete(id)) {
      this.skipped.add(id);
      return false;
    }
    return true;
  }

  private async openShard(id: number): Promise<OpenShard> {
    const name = shardName(id);
    const { input, storage } = this.ctx;
    const shard: OpenShard = {
      id,
      name,
      writer: await createWebDatasetWriter({
        storage,
        name,
        encodeFormat: this.params.encodeFormat ?? "jpg",
        saveCaption: input.hasCaptions,
        additionalColumns: input.additionalColumns,
      }),
      stats: emptyStats(Date.now() / 1000),
      tasks: [],
      queue: Promise.resolve(),
    };
    this.open.set(id, shard);
    return shard;
  }

  /**
   * One sample: downloaded and resized now, up to `concurrency` at once; written and counted once the
   * rows before it are. Rows ahead of the oldest unwritten one are bounded by the window.
   */
  private downloadRow(shard: OpenShard, row: InputRow): Promise<void> {
    const key = computeKey({
      indexInShard: row.indexInShard,
      shardId: row.shardId,
      shardSize: this.ctx.shardSize,
      shardDigits: SHARD_DIGITS,
    });
    let bytes = 0; // its image's, from when it is done until it is written (or given up)
    const processed = processRow(row, key, this.fetcher, this.params, this.ctx.input.hasCaptions)
      .then((sample) => {
        bytes = sample.image?.byteLength ?? 0;
        this.waitingBytes += bytes;
        return sample;
      })
      .finally(() => this.sem.release());
    const written = Promise.all([processed, shard.queue]).then(async ([sample]) => {
      await shard.writer.write(sample);
      this.countSample(shard, sample);
    });
    shard.queue = written;
    return written.catch(this.fail).finally(() => {
      this.waitingBytes -= bytes;
      this.window.release();
      this.wakeReader?.();
      this.wakeReader = undefined;
    });
  }

  private countSample(shard: OpenShard, sample: SampleRecord): void {
    countSample(shard.stats, sample.meta.status, sample.meta.error_message);
    const progress = this.progress;
    progress.done++;
    if (sample.meta.status === "success") progress.successes++;
    else if (sample.meta.status === "failed_to_download") progress.failed_to_download++;
    else progress.failed_to_resize++;
    this.params.onProgress?.({ ...progress });
  }

  /** Closes a shard once all its samples are written: the writer renames its temp files into place. */
  private async finishShard(shard: OpenShard): Promise<void> {
    await Promise.all(shard.tasks);
    await shard.queue;
    if (this.failure) return;
    finishStats(shard.stats, Date.now() / 1000);
    await shard.writer.close(shard.stats);
    this.open.delete(shard.id);
    addStats(this.total, shard.stats);
    this.progress.shards_written++;
    this.params.onProgress?.({ ...this.progress });
  }

  /** Open shards hold partial data: drop their temporary files; finished shards stay for the rerun. */
  private async abortOpenShards(): Promise<void> {
    const open = [...this.open.values()];
    await Promise.all(open.flatMap((s) => s.tasks)).catch(() => {});
    await Promise.all(open.map((s) => s.writer.abort().catch(() => {})));
    this.fetcher.close();
  }
}
