import type { AppConfig } from "./app-config.js";
import type { Stage } from "./stage.js";
import { downloadStage } from "./stage-download.js";
import { encodeStage } from "./stage-encode.js";
import { fetchStage } from "./stage-fetch.js";
import { trainStage } from "./stage-train.js";
import { vqStage } from "./stage-vq.js";

export const STAGE_NAMES = ["fetch", "download", "train-vq", "encode", "train"] as const;
export type StageName = (typeof STAGE_NAMES)[number];

export interface BuildStagesParams {
  cfg: AppConfig;
  /** HF token for the fetch stage (HF_TOKEN / --hf-token). */
  token?: string;
}

/**
 * The kaggle pipeline: with LAION on (USE_LAION=1 / --laion) fetch → download → train-vq → encode → train,
 * with the LAION shards mixed into the VQ's training and their codes (encode.output) into the model's; with it off, train-vq → train on the local data only.
 */
export function buildStages(params: BuildStagesParams): Stage[] {
  const { cfg } = params;
  const laion = cfg.laion.enabled;
  const stages: Stage[] = [];
  if (laion) {
    stages.push(fetchStage({ laion: cfg.laion, ...(params.token ? { token: params.token } : {}) }));
    stages.push(downloadStage({ laionDir: cfg.laion.dir, download: cfg.download }));
  }
  stages.push(vqStage({ cfg, laion }));
  if (laion && cfg.encode.enabled) stages.push(encodeStage({ cfg }));
  stages.push(trainStage({ cfg, laion }));
  return stages;
}
