import fs from "node:fs";
import path from "node:path";
import { fetchLaionSubset, OUTPUT_FILE, PARTS_DIR, PROGRESS_FILE, STATS_FILE } from "@laion/fetch";
import type { AppConfig } from "./app-config.js";
import { commandLine, formatBytes, parquetRowCount, readJson } from "./parquet-check.js";
import type { Stage } from "./stage.js";

export interface FetchStageParams {
  laion: AppConfig["laion"];
  /** HF token (HF_TOKEN); sent as a bearer header by @laion/fetch, never printed. */
  token?: string;
}

/** Stage 1: LAION metadata → `<laion.dir>/filtered.parquet` + `fetch_stats.json`, through @laion/fetch. */
export function fetchStage(params: FetchStageParams): Stage {
  const { laion } = params;
  const outPath = path.join(laion.dir, OUTPUT_FILE);
  const statsPath = path.join(laion.dir, STATS_FILE);
  const progressPath = path.join(laion.dir, PROGRESS_FILE);
  const source = laion.input ? laion.input.join(" ") : `hf://${laion.hf_dataset}`;
  return {
    name: "fetch",
    describe: () =>
      `${source} → ${outPath} (${laion.max_samples === null ? "all rows" : `up to ${laion.max_samples} rows`})`,
    outputs: () => [outPath, statsPath],
    command: () =>
      commandLine([
        "npx",
        "fetch-laion-subset",
        ...(laion.input
          ? ["--input", ...laion.input]
          : ["--hf-dataset", laion.hf_dataset, "--hub-url", laion.hub_url]),
        ...(laion.max_samples !== null ? ["--max-samples", laion.max_samples] : []),
        ...(laion.min_caption_len !== null ? ["--min-caption-len", laion.min_caption_len] : []),
        "--seed",
        laion.seed,
        "--out-dir",
        laion.dir,
        "--resume",
      ]),
    check: async () => {
      const progress = readJson<{ complete?: boolean; done?: unknown[] }>(progressPath);
      const rows = await parquetRowCount(outPath);
      const stats = readJson<{ rows_kept?: number }>(statsPath);
      if (rows !== null && stats !== null && (progress === null || progress.complete === true))
        return { complete: true, partial: false, detail: `${rows} rows in ${outPath}` };
      const started = progress !== null || fs.existsSync(path.join(laion.dir, PARTS_DIR));
      return {
        complete: false,
        partial: started,
        detail: started
          ? `earlier run stopped after ${progress?.done?.length ?? 0} input file(s)`
          : `no ${outPath} yet`,
      };
    },
    run: async ({ resume, log }) => {
      const { stats } = await fetchLaionSubset({
        ...(laion.input ? { input: laion.input } : { hfDataset: laion.hf_dataset, hubUrl: laion.hub_url }),
        ...(params.token ? { token: params.token } : {}),
        ...(laion.max_samples !== null ? { maxSamples: laion.max_samples } : {}),
        ...(laion.min_caption_len !== null ? { minCaptionLen: laion.min_caption_len } : {}),
        seed: laion.seed,
        outDir: laion.dir,
        resume,
        onLog: log,
      });
      const dropped = Object.entries(stats.dropped)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ");
      log(
        `kept ${stats.rows_kept} of ${stats.rows_read} rows read${dropped ? ` (dropped: ${dropped})` : ""}, ` +
          `${formatBytes(stats.bytes_fetched)} fetched`,
      );
    },
  };
}
