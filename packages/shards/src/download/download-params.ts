// What downloadShards is asked (download-shards.ts) and what it reports as it goes: the parameters
// of the whole download, which its per-run machinery (download-run.ts) reads too.
import type { HttpParams } from "./http.js";
import type { InputParams } from "./input.js";
import type { ResizeParams } from "./resize.js";
import type { OutputParams } from "./storage.js";

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
  /** How many workers split the work. Default 1. */
  workerCount?: number;
  /**
   * How workers split the work (default "shard"): by shard, every worker reads every input file and
   * writes the shards whose id ≡ its index (mod workerCount); by "file" (img2dataset's way, for a folder
   * or glob of many files), worker I reads only the files whose index in the sorted list ≡ I and numbers
   * its shards I, I+N, I+2N, … so workers never collide. The keys then depend on workerCount.
   */
  splitBy?: "shard" | "file";
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
