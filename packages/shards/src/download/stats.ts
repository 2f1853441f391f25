import type { SampleStatus } from "./sample-meta.js";

/** `{shard}_stats.json`, with img2dataset's fields (its logger reads them back to report progress). */
export interface ShardStats {
  count: number;
  successes: number;
  failed_to_download: number;
  failed_to_resize: number;
  /** Seconds. */
  duration: number;
  /** Unix time, seconds. */
  start_time: number;
  end_time: number;
  /** How many samples ended with each status message: "success" or the error message. */
  status_dict: Record<string, number>;
}

/** `stats.json` of a run (one per worker when the job is split): totals over the shards this run wrote. */
export interface RunStats extends ShardStats {
  shards_written: number;
  /** Shards found complete from an earlier run, left as they were. */
  shards_skipped: number;
  worker_index: number;
  worker_count: number;
  /** The output folder or s3:// prefix. */
  output: string;
}

export function emptyStats(startTime: number): ShardStats {
  return {
    count: 0,
    successes: 0,
    failed_to_download: 0,
    failed_to_resize: 0,
    duration: 0,
    start_time: startTime,
    end_time: startTime,
    status_dict: {},
  };
}

export function countSample(stats: ShardStats, status: SampleStatus, error: string | null): void {
  stats.count++;
  if (status === "success") stats.successes++;
  else if (status === "failed_to_download") stats.failed_to_download++;
  else stats.failed_to_resize++;
  const reason = status === "success" ? "success" : (error ?? status);
  stats.status_dict[reason] = (stats.status_dict[reason] ?? 0) + 1;
}

export function addStats(total: ShardStats, shard: ShardStats): void {
  total.count += shard.count;
  total.successes += shard.successes;
  total.failed_to_download += shard.failed_to_download;
  total.failed_to_resize += shard.failed_to_resize;
  for (const [k, v] of Object.entries(shard.status_dict))
    total.status_dict[k] = (total.status_dict[k] ?? 0) + v;
}

export function finishStats(stats: ShardStats, endTime: number): void {
  stats.end_time = endTime;
  stats.duration = Math.max(0, endTime - stats.start_time);
}
