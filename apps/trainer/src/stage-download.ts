import fs from "node:fs";
import path from "node:path";
import { createProgress } from "@laion/cli-kit";
import { downloadShards, type ShardStats, shardFiles, shardName } from "@laion/shards";
import type { AppConfig } from "./app-config.js";
import { commandLine, parquetRowCount, readJson } from "./parquet-check.js";
import type { Stage } from "./stage.js";

export interface DownloadStageParams {
  /** Folder holding filtered.parquet (the fetch stage's output). */
  laionDir: string;
  download: AppConfig["download"];
}

export interface ShardTotals {
  shards: number;
  count: number;
  successes: number;
  /** Failed samples by reason (the shards' status_dict, "success" left out). */
  failures: Record<string, number>;
}

/** Sums the `{shard}_stats.json` files of finished shards (stats.json only covers the last run's shards). */
export function shardTotals(dir: string, names: string[]): ShardTotals {
  const totals: ShardTotals = { shards: 0, count: 0, successes: 0, failures: {} };
  for (const name of names) {
    const stats = readJson<ShardStats>(path.join(dir, shardFiles(name).stats));
    if (!stats) continue;
    totals.shards++;
    totals.count += stats.count;
    totals.successes += stats.successes;
    for (const [reason, n] of Object.entries(stats.status_dict ?? {}))
      if (reason !== "success") totals.failures[reason] = (totals.failures[reason] ?? 0) + n;
  }
  return totals;
}

/**
 * Stage 2: the URLs of filtered.parquet → `download.output/00000.tar …` (img2dataset's webdataset
 * layout) through @laion/shards. Complete when every shard the input needs has its tar and
 * `_stats.json` and the run's stats.json exists; the downloader itself skips finished shards, so a
 * rerun after a kill resumes with the same keys.
 */
export function downloadStage(params: DownloadStageParams): Stage {
  const d = params.download;
  const input = path.join(params.laionDir, "filtered.parquet");
  const expectedShards = async (): Promise<string[] | null> => {
    const rows = await parquetRowCount(input);
    if (rows === null) return null;
    // one input file: shards 0 … ceil(rows / shard_size) - 1
    return Array.from({ length: Math.ceil(rows / d.shard_size) }, (_, i) => shardName(i));
  };
  return {
    name: "download",
    describe: () =>
      `${input} → ${d.output}/{00000..}.tar (${d.image_size} px ${d.resize_mode}, ${d.shard_size} per shard)`,
    outputs: () => [d.output],
    command: () =>
      commandLine([
        "npx",
        "download-laion-images",
        "--input",
        input,
        "--output",
        d.output,
        "--image-size",
        d.image_size,
        "--resize-mode",
        d.resize_mode,
        "--shard-size",
        d.shard_size,
        "--concurrency",
        d.concurrency,
        "--timeout",
        d.timeout_s,
        "--retries",
        d.retries,
        ...d.allow_addresses.flatMap((a) => ["--allow-address", a]),
        ...(d.allow_private_addresses ? ["--allow-private-addresses"] : []),
      ]),
    check: async () => {
      const names = await expectedShards();
      if (names === null) return { complete: false, partial: false, detail: `no ${input} yet` };
      const done = names.filter(
        (n) =>
          fs.existsSync(path.join(d.output, shardFiles(n).tar)) &&
          fs.existsSync(path.join(d.output, shardFiles(n).stats)),
      );
      const statsJson = fs.existsSync(path.join(d.output, "stats.json"));
      if (done.length === names.length && statsJson) {
        const t = shardTotals(d.output, names);
        return {
          complete: true,
          partial: false,
          detail: `${t.shards} shards, ${t.successes}/${t.count} images`,
        };
      }
      return {
        complete: false,
        partial: done.length > 0,
        detail: `${done.length}/${names.length} shards finished`,
      };
    },
    run: async ({ log }) => {
      const rows = (await parquetRowCount(input)) ?? undefined;
      const progress = createProgress({ label: "images", ...(rows ? { total: rows } : {}) });
      let last = { done: 0, successes: 0 };
      const stats = await downloadShards({
        input,
        output: d.output,
        imageSize: d.image_size,
        resizeMode: d.resize_mode,
        shardSize: d.shard_size,
        concurrency: d.concurrency,
        timeoutMs: d.timeout_s * 1000,
        retries: d.retries,
        allowPrivateAddresses: d.allow_private_addresses,
        allowAddresses: d.allow_addresses,
        onProgress: (p) => {
          if (p.done > last.done)
            progress.tick(p.done - last.done, {
              ok: p.successes,
              failed: p.failed_to_download + p.failed_to_resize,
              shards: p.shards_written,
            });
          last = p;
        },
      });
      progress.done({ images: stats.successes, failed: stats.count - stats.successes });
      const names = (await expectedShards()) ?? [];
      const t = shardTotals(d.output, names);
      const reasons = Object.entries(t.failures)
        .sort((a, b) => b[1] - a[1])
        .map(([r, n]) => `${n}× ${r}`)
        .join("; ");
      log(
        `${stats.shards_written} shards written, ${stats.shards_skipped} already complete; ` +
          `all shards: ${t.successes}/${t.count} images (${t.count ? ((100 * t.successes) / t.count).toFixed(1) : 0} %)` +
          (reasons ? `; failures handled: ${reasons}` : ""),
      );
    },
  };
}
