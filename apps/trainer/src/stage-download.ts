import path from "node:path";
import { createProgress } from "@laion/cli-kit";
import {
  DOWNLOAD_RUNTIME,
  type DownloadParams,
  downloadArgs,
  downloadShards,
  downloadStatus,
} from "@laion/shards";
import type { AppConfig } from "./app-config.js";
import { commandLine } from "./command-line.js";
import { parquetRowCount } from "./parquet-rows.js";
import { checkFromStatus, type Stage } from "./stage.js";

export interface DownloadStageParams {
  /** Folder holding filtered.parquet (the fetch stage's output). */
  laionDir: string;
  download: AppConfig["download"];
}

/** The app's download section as @laion/shards params: one object for the run, the status and the printed command. */
export function downloadParamsFor(params: DownloadStageParams): DownloadParams {
  const d = params.download;
  return {
    input: path.join(params.laionDir, "filtered.parquet"),
    output: d.output,
    imageSize: d.image_size,
    resizeMode: d.resize_mode,
    shardSize: d.shard_size,
    concurrency: d.concurrency,
    timeoutMs: d.timeout_s * 1000,
    retries: d.retries,
    allowPrivateAddresses: d.allow_private_addresses,
    allowAddresses: d.allow_addresses,
  };
}

/**
 * Stage 2: the URLs of filtered.parquet → `download.output/00000.tar …` (img2dataset's webdataset
 * layout) through @laion/shards, which says what is there: complete, partial (a killed run, or samples
 * that failed for a transient reason: a rerun retries them), or changed (other settings or input).
 */
export function downloadStage(params: DownloadStageParams): Stage {
  const d = params.download;
  const p = downloadParamsFor(params);
  return {
    name: "download",
    runtime: DOWNLOAD_RUNTIME,
    describe: () =>
      `${p.input} → ${d.output}/{00000..}.tar (${d.image_size} px ${d.resize_mode}, ${d.shard_size} per shard)`,
    outputs: () => [d.output],
    command: () => commandLine(["npx", "download-laion-images", ...downloadArgs(p)]),
    check: async () => {
      const status = await downloadStatus(p);
      // only transient failures left: run again to retry them, but a run that ends so is done
      return checkFromStatus(status, status.finished === true);
    },
    run: async ({ overwrite, log }) => {
      const rows = (await parquetRowCount(String(p.input))) ?? undefined;
      const progress = createProgress({ label: "images", ...(rows ? { total: rows } : {}) });
      let last = { done: 0, successes: 0 };
      const stats = await downloadShards({
        ...p,
        overwrite,
        onLog: log,
        onProgress: (pr) => {
          if (pr.done > last.done)
            progress.tick(pr.done - last.done, {
              ok: pr.successes,
              failed: pr.failed_to_download + pr.failed_to_resize,
              shards: pr.shards_written,
            });
          last = pr;
        },
      });
      progress.done({ images: stats.successes, failed: stats.count - stats.successes });
      const reasons = Object.entries(stats.status_dict)
        .filter(([r]) => r !== "success")
        .sort((a, b) => b[1] - a[1])
        .map(([r, n]) => `${n}× ${r}`)
        .join("; ");
      log(
        `${stats.shards_written} shards written, ${stats.shards_skipped} already complete; ` +
          `all shards: ${stats.successes}/${stats.count} images (${stats.count ? ((100 * stats.successes) / stats.count).toFixed(1) : 0} %)` +
          (reasons ? `; failures handled: ${reasons}` : ""),
      );
    },
  };
}
