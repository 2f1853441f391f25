import type { AppConfig } from "./app-config.js";
import type { Stage } from "./stage.js";
import { pendingStage } from "./stage-pending.js";

export interface DownloadStageParams {
  /** Folder holding filtered.parquet (the fetch stage's output). */
  laionDir: string;
  download: AppConfig["download"];
}

export function downloadStage(params: DownloadStageParams): Stage {
  return pendingStage("download", "@laion/shards downloadShards", [params.download.output]);
}
