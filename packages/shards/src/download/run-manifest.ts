import {
  formatDifferences,
  type InputIdentity,
  inputIdentity,
  type JsonValue,
  manifestDifferences,
  newManifest,
  type RunManifest,
  type RunStatus,
} from "@laion/cli-kit";
import { DEFAULT_MAX_BODY_BYTES, isTransientError } from "./http.js";
import type { InputParams } from "./input.js";
import { DEFAULT_LIMIT_INPUT_PIXELS, type ResizeParams } from "./resize.js";
import { DEFAULT_DISALLOWED_DIRECTIVES } from "./robots.js";
import { readShardStats } from "./shard-writer.js";
import type { ShardStats } from "./stats.js";
import { type OutputParams, openStorage, type ShardStorage } from "./storage.js";
import type { WorkerSlot } from "./workers.js";

/** The parameters that change what the shards hold; concurrency, timeouts, retries and the worker split do not. */
export interface DownloadOutputParams extends InputParams, ResizeParams {
  shardSize?: number;
  splitBy?: "shard" | "file";
  disallowedDirectives?: readonly string[];
  allowPrivateAddresses?: boolean;
  maxBodyBytes?: number;
}

/** The CLI flag of each recorded parameter, so a refusal names what the user typed. */
export const DOWNLOAD_FLAGS: Record<string, string> = {
  input_format: "--input-format",
  url_col: "--url-col",
  caption_col: "--caption-col",
  save_additional_columns: "--save-additional-columns",
  image_size: "--image-size",
  resize_mode: "--resize-mode",
  resize_only_if_bigger: "--resize-only-if-bigger",
  min_image_size: "--min-image-size",
  max_aspect_ratio: "--max-aspect-ratio",
  encode_format: "--encode-format",
  encode_quality: "--encode-quality",
  shard_size: "--shard-size",
  disallowed_directives: "--disallow-robots-header",
  allow_private_addresses: "--allow-private-addresses",
  max_body_bytes: "--max-body-bytes",
  limit_input_pixels: "--limit-input-pixels",
  split_by: "--split-by",
};

/** The output-affecting parameters with their defaults filled in, so "left out" and "given as the default" compare equal. */
export function downloadManifestParams(p: DownloadOutputParams): Record<string, JsonValue> {
  const infinite = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? null : v);
  return {
    input_format: p.inputFormat ?? null,
    url_col: p.urlCol ?? null,
    caption_col: p.captionCol === undefined ? "(auto)" : p.captionCol,
    save_additional_columns: [...(p.saveAdditionalColumns ?? [])],
    image_size: p.imageSize ?? 256,
    resize_mode: p.resizeMode ?? "center_crop",
    resize_only_if_bigger: p.resizeOnlyIfBigger ?? false,
    min_image_size: p.minImageSize ?? 0,
    max_aspect_ratio: infinite(p.maxAspectRatio),
    encode_format: p.encodeFormat ?? "jpg",
    encode_quality: p.encodeQuality ?? null,
    shard_size: p.shardSize ?? 10_000,
    disallowed_directives: [...(p.disallowedDirectives ?? DEFAULT_DISALLOWED_DIRECTIVES)],
    allow_private_addresses: p.allowPrivateAddresses ?? false,
    max_body_bytes: p.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    limit_input_pixels: p.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS,
    // recorded only when it changes the shards' contents, so manifests written before it existed still match
    ...(p.splitBy === "file" ? { split_by: "file" } : {}),
  };
}

export function downloadInputs(p: Pick<InputParams, "input">): InputIdentity[] {
  return (typeof p.input === "string" ? [p.input] : [...p.input]).map(inputIdentity);
}

/** One manifest per worker, so workers sharing an output never rewrite each other's. */
export function manifestName(slot: WorkerSlot): string {
  return slot.workerCount === 1
    ? ".download-manifest.json"
    : `.download-manifest-worker-${slot.workerIndex}-of-${slot.workerCount}.json`;
}

export async function readDownloadManifest(
  storage: ShardStorage,
  slot: WorkerSlot,
): Promise<RunManifest | null> {
  if (!(await storage.exists(manifestName(slot)))) return null;
  return JSON.parse(await storage.read(manifestName(slot))) as RunManifest;
}

export function newDownloadManifest(p: DownloadOutputParams): RunManifest {
  return newManifest("@laion/shards download", downloadManifestParams(p), downloadInputs(p));
}

/** Failures a rerun should try again: the network or the server, not the image (see isTransientError). */
export function transientFailures(stats: ShardStats): number {
  let n = 0;
  for (const [reason, count] of Object.entries(stats.status_dict))
    if (reason !== "success" && isTransientError(reason)) n += count;
  return n;
}

/** Shard stats when the shard is whole (tar + stats), else null. */
export async function finishedShardStats(storage: ShardStorage, name: string): Promise<ShardStats | null> {
  return (await readShardStats<ShardStats>(storage, name)) ?? null;
}

export interface DownloadStatus extends RunStatus {
  /** Shards of the finished run(s) and how many of their samples succeeded / failed transiently. */
  shards?: number;
  count?: number;
  successes?: number;
  transient?: number;
  /** Every shard of the request is written; only transient failures (if any) are left for a rerun. */
  finished?: boolean;
}

/**
 * What is in `storage` for this request: missing (nothing), changed (other output-affecting parameters or
 * input), partial (a run stopped early, a shard is gone, or samples failed for transient reasons: a
 * rerun resumes and retries them), or complete. Every worker slot of the split is looked at.
 */
export async function downloadStatus(
  p: DownloadOutputParams & OutputParams & { workerCount?: number },
): Promise<DownloadStatus> {
  const storage = openStorage(p);
  const workerCount = p.workerCount ?? 1;
  const params = downloadManifestParams(p);
  const inputs = downloadInputs(p);
  const totals = { shards: 0, count: 0, successes: 0, transient: 0, missing: 0, unfinished: 0 };
  let seen = 0;
  for (let workerIndex = 0; workerIndex < workerCount; workerIndex++) {
    const manifest = await readDownloadManifest(storage, { workerIndex, workerCount });
    if (!manifest) continue;
    seen++;
    const differences = manifestDifferences(manifest, params, inputs);
    if (differences.length > 0)
      return { state: "changed", detail: formatDifferences(differences), differences };
    if (!manifest.complete) totals.unfinished++;
    const names = (manifest.result?.["shards"] as string[] | undefined) ?? [];
    for (const name of names) {
      const stats = await finishedShardStats(storage, name);
      if (!stats) {
        totals.missing++;
        continue;
      }
      totals.shards++;
      totals.count += stats.count;
      totals.successes += stats.successes;
      totals.transient += transientFailures(stats);
    }
  }
  if (seen === 0) return { state: "missing", detail: `no download in ${storage.location} yet` };
  const counts = {
    shards: totals.shards,
    count: totals.count,
    successes: totals.successes,
    transient: totals.transient,
  };
  const images = `${totals.successes}/${totals.count} images`;
  if (totals.unfinished > 0 || seen < workerCount)
    return {
      state: "partial",
      detail: `an earlier run stopped: ${totals.shards} shards finished`,
      ...counts,
    };
  if (totals.missing > 0)
    return {
      state: "partial",
      detail: `${totals.shards}/${totals.shards + totals.missing} shards finished`,
      ...counts,
    };
  if (totals.transient > 0)
    return {
      state: "partial",
      detail: `${totals.shards} shards, ${images}, ${totals.transient} transient failures to retry`,
      ...counts,
      finished: true,
    };
  return { state: "complete", detail: `${totals.shards} shards, ${images}`, ...counts, finished: true };
}
