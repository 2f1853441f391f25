import type { ShardError } from "./errors.js";
import type { RawSample } from "./sample-types.js";
import { WebDataset, type WebDatasetOptions } from "./web-dataset.js";

/** What `laion-shards ls` prints for a sample: its key, shard and member sizes in bytes. */
export interface SampleSummary {
  __key__: string;
  __url__: string;
  /** Extension → size in bytes. */
  members: Record<string, number>;
}

/** Key, shard and member sizes of a raw sample. */
export function summarizeSample(sample: RawSample): SampleSummary {
  const members: Record<string, number> = {};
  for (const [ext, value] of Object.entries(sample)) {
    if (value instanceof Uint8Array) members[ext] = value.byteLength;
  }
  return { __key__: sample.__key__, __url__: sample.__url__, members };
}

/** Totals over a set of shards, as `laion-shards stats` prints them. */
export interface DatasetStats {
  /** Shards that gave at least one sample. */
  shards: number;
  samples: number;
  /** Bytes of all members (after gunzipping `.gz` members). */
  bytes: number;
  /** Per extension: how many samples have it and its total bytes. */
  extensions: Record<string, { count: number; bytes: number }>;
  /** Shards or members that could not be read (with the default handler "warnAndContinue"). */
  errors: { url: string; member?: string; message: string }[];
}

/**
 * Reads every sample of `urls` once and counts samples, bytes and extensions. Errors are
 * collected rather than thrown unless `handler: "raise"` is passed.
 */
export async function datasetStats(params: {
  urls: string | readonly string[];
  options?: Omit<WebDatasetOptions, "decode" | "resample" | "onError">;
  onSample?: (summary: SampleSummary) => void;
}): Promise<DatasetStats> {
  const stats: DatasetStats = { shards: 0, samples: 0, bytes: 0, extensions: {}, errors: [] };
  const shards = new Set<string>();
  const onError = (e: ShardError) => {
    stats.errors.push({
      url: e.url,
      ...(e.member === undefined ? {} : { member: e.member }),
      message: e.message,
    });
  };
  const handler = params.options?.handler === "raise" ? "raise" : "ignore";
  for await (const sample of WebDataset(params.urls, { ...params.options, handler, onError })) {
    const summary = summarizeSample(sample);
    shards.add(summary.__url__);
    stats.samples++;
    for (const [ext, bytes] of Object.entries(summary.members)) {
      const e = stats.extensions[ext] ?? { count: 0, bytes: 0 };
      stats.extensions[ext] = e;
      e.count++;
      e.bytes += bytes;
      stats.bytes += bytes;
    }
    params.onSample?.(summary);
  }
  stats.shards = shards.size;
  return stats;
}
