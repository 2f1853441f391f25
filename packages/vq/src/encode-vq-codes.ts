// encode-vq-codes: LAION image shards → code shards, once, so training never decodes a JPEG nor runs the VQ
// encoder over the same image again. One code shard per image shard (same name), written atomically; a rerun
// skips finished shards; `workerIndex/workerCount` split the shards like the downloader does.
import path from "node:path";
import {
  createS3Client,
  imageOf,
  isShardComplete,
  openStorage,
  ownsShard,
  readShardStats,
  resolveShards,
  resolveWorkerSlot,
  type S3Options,
  type ShardStorage,
  shardOfFile,
  WebDataset,
} from "@laion/shards";
import type { BackendName } from "./backend.js";
import { type CodeSample, type CodeShardStats, createCodeShardWriter } from "./code-shards.js";
import { imageToFloat } from "./images.js";
import { describeIdentity, type VqIdentity } from "./vq-identity.js";
import { loadVQ, type VQ, vqCheckpointIdentity } from "./vq-model.js";

export interface EncodeVqCodesParams {
  /** A checkpoint written by train-visual-vq (safetensors, whatever its extension). */
  vqCheckpoint: string;
  /** Image shards: paths, folders, globs, `{00000..00127}` ranges, http(s):// or s3:// URLs. */
  input: string | readonly string[];
  /** A local folder or `s3://bucket/prefix`. */
  output: string;
  workerIndex?: number;
  workerCount?: number;
  /** Images per encoder forward pass (default 32). */
  batchSize?: number;
  backend?: BackendName;
  /** Endpoint of an S3-compatible store, for s3:// input and output. */
  s3Endpoint?: string;
  s3?: S3Options;
  signal?: AbortSignal;
  onProgress?: (event: EncodeProgress) => void;
}

export interface EncodeProgress {
  shard: string;
  /** Samples encoded in this shard so far. */
  encoded: number;
  /** Set when the shard is finished (or found finished: skipped). */
  done?: "written" | "skipped";
}

export interface EncodeVqCodesResult {
  vq: VqIdentity;
  shardsWritten: number;
  shardsSkipped: number;
  /** Totals over the shards this run wrote. */
  samples: number;
  encoded: number;
  failed: number;
  seconds: number;
}

/** `…/00012.tar(.gz)` → `00012`: the code shard keeps the image shard's name. */
export function codeShardName(url: string): string {
  return path.posix.basename(url.split("?")[0] as string).replace(/\.(tar|tgz|tar\.gz)$/i, "");
}

function checkNames(shards: string[]): void {
  const seen = new Map<string, string>();
  for (const url of shards) {
    const name = codeShardName(url);
    const other = seen.get(name);
    if (other)
      throw new Error(
        `input shards ${other} and ${url} would both be written as ${name}.tar: give one folder at a time`,
      );
    seen.set(name, url);
  }
}

export async function encodeVqCodes(params: EncodeVqCodesParams): Promise<EncodeVqCodesResult> {
  const started = performance.now();
  const slot = resolveWorkerSlot(params);
  const batchSize = params.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new Error(`--batch-size must be an integer ≥ 1, got ${batchSize}`);
  const s3Options = { ...params.s3, ...(params.s3Endpoint ? { endpoint: params.s3Endpoint } : {}) };
  // Made only for s3:// inputs or output (the AWS SDK warns about old Node versions when loaded).
  let client: ReturnType<typeof createS3Client> | undefined;
  const s3Client = () => {
    client ??= createS3Client(s3Options);
    return client;
  };
  const storage = openStorage({
    output: params.output,
    ...(params.output.startsWith("s3://") ? { s3Client: s3Client() } : {}),
  });
  const shards = await resolveShards({ urls: params.input, s3Client });
  checkNames(shards);
  await storage.probe();
  const model = await loadVQ(params.vqCheckpoint, params.backend ? { backend: params.backend } : {});
  const vq: VqIdentity = {
    id: await model.identityId(),
    checkpoint: path.basename(params.vqCheckpoint),
    image_size: model.config.imageSize,
    grid_size: model.gridSize,
    codebook_size: model.codebookSize,
  };
  const result: EncodeVqCodesResult = {
    vq,
    shardsWritten: 0,
    shardsSkipped: 0,
    samples: 0,
    encoded: 0,
    failed: 0,
    seconds: 0,
  };
  const mine = shards.filter((_, i) => ownsShard(i, slot));
  const mineNames = new Set(mine.map(codeShardName));
  await refuseOtherVq(storage, [...mineNames], vq);
  await storage.removeStale((file) => mineNames.has(shardOfFile(file) ?? ""));
  try {
    for (const url of mine) {
      params.signal?.throwIfAborted();
      const name = codeShardName(url);
      if (await isShardComplete(storage, name)) {
        result.shardsSkipped++;
        params.onProgress?.({ shard: name, encoded: 0, done: "skipped" });
        continue;
      }
      const stats = await encodeShard({ url, name, model, vq, batchSize, storage, s3Client, params });
      result.shardsWritten++;
      result.samples += stats.count;
      result.encoded += stats.successes;
      result.failed += stats.failed_to_decode;
      params.onProgress?.({ shard: name, encoded: stats.successes, done: "written" });
    }
  } finally {
    model.dispose();
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

/** The VQ identity a finished code shard records (its `_stats.json`), or undefined when it is not finished. */
async function finishedBy(storage: ShardStorage, name: string): Promise<VqIdentity | undefined> {
  try {
    return (await readShardStats<Partial<CodeShardStats>>(storage, name))?.vq;
  } catch {
    return undefined; // unreadable stats: treated as unfinished, the shard is written again
  }
}

/**
 * Codes of two VQs must never share an output (the trainer checks per sample, but a mixed folder would only
 * fail mid-run): finished shards made by another VQ stop the run before anything is written.
 */
async function refuseOtherVq(storage: ShardStorage, names: string[], vq: VqIdentity): Promise<void> {
  for (const name of names) {
    const by = await finishedBy(storage, name);
    if (by && by.id !== vq.id)
      throw new Error(
        `${storage.location}/${name}.tar was encoded by VQ ${describeIdentity(by)} but --vq-checkpoint is ${describeIdentity(vq)}: write to another --output, or move the old one aside`,
      );
  }
}

export interface CodeShardsStatus {
  /** complete: every input shard has its code shard from this VQ; partial: some; changed: some from another VQ; missing: none. */
  state: "complete" | "partial" | "changed" | "missing";
  detail: string;
  done: number;
  total: number;
}

/** What `encodeVqCodes` would find for these inputs: the app asks this before running its encode stage. */
export async function codeShardsStatus(
  params: Pick<EncodeVqCodesParams, "vqCheckpoint" | "input" | "output" | "s3Endpoint" | "s3">,
): Promise<CodeShardsStatus> {
  const s3Options = { ...params.s3, ...(params.s3Endpoint ? { endpoint: params.s3Endpoint } : {}) };
  const storage = openStorage({
    output: params.output,
    ...(params.output.startsWith("s3://") ? { s3Client: createS3Client(s3Options) } : {}),
  });
  const names = (await resolveShards({ urls: params.input, s3Client: () => createS3Client(s3Options) })).map(
    codeShardName,
  );
  const vq = await vqCheckpointIdentity(params.vqCheckpoint);
  let done = 0;
  for (const name of names) {
    const by = await finishedBy(storage, name);
    if (by && by.id !== vq.id)
      return {
        state: "changed",
        detail: `${name}.tar was encoded by VQ ${describeIdentity(by)}, the checkpoint is now ${describeIdentity(vq)}`,
        done,
        total: names.length,
      };
    if (by) done++;
  }
  const total = names.length;
  const state = done === total ? "complete" : done > 0 ? "partial" : "missing";
  return { state, detail: `${done}/${total} code shards from VQ ${describeIdentity(vq)}`, done, total };
}

interface ShardJob {
  url: string;
  name: string;
  model: VQ;
  vq: VqIdentity;
  batchSize: number;
  storage: ShardStorage;
  s3Client: () => ReturnType<typeof createS3Client>;
  params: Pick<EncodeVqCodesParams, "signal" | "onProgress">;
}

interface Pending {
  key: string;
  caption: string | undefined;
  meta: Record<string, unknown>;
  image: Uint8Array;
}

/** Reads one image shard in order and writes its code shard; any read or write failure aborts the shard. */
async function encodeShard(job: ShardJob): Promise<CodeShardStats> {
  const t0 = performance.now();
  const stats: CodeShardStats = {
    input: job.url,
    count: 0,
    successes: 0,
    failed_to_decode: 0,
    no_image: 0,
    status_dict: {},
    vq: job.vq,
    duration: 0,
  };
  const writer = await createCodeShardWriter({ storage: job.storage, name: job.name, vq: job.vq });
  const count = (status: string) => {
    stats.status_dict[status] = (stats.status_dict[status] ?? 0) + 1;
  };
  let batch: Pending[] = [];
  const flush = async () => {
    for (const s of await encodeBatch(job.model, batch, count)) {
      await writer.write(s);
      stats.successes++;
    }
    stats.failed_to_decode = stats.count - stats.no_image - stats.successes;
    batch = [];
    job.params.onProgress?.({ shard: job.name, encoded: stats.successes });
  };
  try {
    // "raise": a truncated or unreachable input shard fails the run (rerun to resume) instead of leaving
    // a complete-looking code shard with samples missing.
    const samples = WebDataset(job.url, {
      handler: "raise",
      ...(job.url.startsWith("s3://") ? { s3Client: job.s3Client() } : {}),
    });
    for await (const s of samples) {
      job.params.signal?.throwIfAborted();
      stats.count++;
      const image = imageOf(s);
      if (!image) {
        stats.no_image++;
        count("no image member");
        continue;
      }
      batch.push({
        key: s.__key__,
        // raw bytes (no decode): an invalid UTF-8 caption or a broken json must not fail the shard
        caption: s.txt ? Buffer.from(s.txt).toString("utf8") : undefined,
        meta: parseMeta(s.json),
        image,
      });
      if (batch.length >= job.batchSize) await flush();
    }
    if (batch.length) await flush();
    stats.duration = (performance.now() - t0) / 1000;
    await writer.close(stats);
    return stats;
  } catch (err) {
    await writer.abort();
    throw new Error(`encoding ${job.url}: ${(err as Error).message}`, { cause: err });
  }
}

function parseMeta(json: Uint8Array | undefined): Record<string, unknown> {
  if (!json) return {};
  try {
    const v = JSON.parse(Buffer.from(json).toString("utf8"));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? v : { original_json: v };
  } catch {
    return {}; // a broken json member loses nothing the codes need
  }
}

/** Decodes the batch's images concurrently (sharp's thread pool), then runs one encoder pass over the good ones. */
async function encodeBatch(
  model: VQ,
  batch: Pending[],
  count: (status: string) => void,
): Promise<CodeSample[]> {
  const S = model.config.imageSize;
  const decoded = await Promise.all(
    batch.map((p) =>
      imageToFloat(p.image, S).then(
        (px) => ({ p, px }),
        (err: unknown) => {
          count(`cannot decode image: ${(err as Error).message}`);
          return null;
        },
      ),
    ),
  );
  const ok = decoded.filter((d) => d !== null);
  if (ok.length === 0) return [];
  const pixels = new Float32Array(ok.length * S * S * 3);
  for (const [i, d] of ok.entries()) pixels.set(d.px, i * S * S * 3);
  const codes = await model.encode(pixels, ok.length);
  const T = model.tokensPerImage;
  return ok.map((d, i) => {
    count("success");
    return { key: d.p.key, caption: d.p.caption, meta: d.p.meta, codes: codes.slice(i * T, (i + 1) * T) };
  });
}
