import path from "node:path";
import {
  FETCH_RUNTIME,
  type FetchLaionSubsetParams,
  fetchArgs,
  fetchLaionSubset,
  fetchSubsetStatus,
  OUTPUT_FILE,
  OWN_PROCESS_MEMORY,
  STATS_FILE,
} from "@laion/fetch";
import type { AppConfig } from "./app-config.js";
import { commandLine } from "./command-line.js";
import { formatBytes } from "./format-bytes.js";
import { checkFromStatus, type Stage } from "./stage.js";

export interface FetchStageParams {
  laion: AppConfig["laion"];
  /** HF token (HF_TOKEN); sent as a bearer header by @laion/fetch, never printed. */
  token?: string;
}

/** The app's laion section as @laion/fetch params: one object for the run, the status and the printed command. */
export function fetchParamsFor(laion: AppConfig["laion"]): FetchLaionSubsetParams {
  return {
    ...(laion.input ? { input: laion.input } : { hfDataset: laion.hf_dataset, hubUrl: laion.hub_url }),
    ...(laion.max_samples !== null ? { maxSamples: laion.max_samples } : {}),
    ...(laion.min_caption_len !== null ? { minCaptionLen: laion.min_caption_len } : {}),
    seed: laion.seed,
    outDir: laion.dir,
  };
}

/** Stage 1: LAION metadata → `<laion.dir>/filtered.parquet` + `fetch_stats.json`, through @laion/fetch. */
export function fetchStage(params: FetchStageParams): Stage {
  const { laion } = params;
  const p = fetchParamsFor(laion);
  const outPath = path.join(laion.dir, OUTPUT_FILE);
  const statsPath = path.join(laion.dir, STATS_FILE);
  const source = laion.input ? laion.input.join(" ") : `hf://${laion.hf_dataset}`;
  return {
    name: "fetch",
    runtime: FETCH_RUNTIME,
    describe: () =>
      `${source} → ${outPath} (${laion.max_samples === null ? "all rows" : `up to ${laion.max_samples} rows`})`,
    outputs: () => [outPath, statsPath],
    command: () => commandLine(["npx", "fetch-laion-subset", ...fetchArgs({ ...p, resume: true })]),
    check: async () => checkFromStatus(fetchSubsetStatus(p)),
    run: async ({ resume, overwrite, log }) => {
      const { stats } = await fetchLaionSubset({
        ...p,
        ...(params.token ? { token: params.token } : {}),
        resume,
        overwrite,
        // the app's process is ours: the fetch may start GCs early, as the bin does
        memory: OWN_PROCESS_MEMORY,
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
