import type { AppConfig } from "./app-config.js";
import type { Stage } from "./stage.js";
import { pendingStage } from "./stage-pending.js";

export interface VqStageParams {
  cfg: AppConfig;
  /** Mix the LAION shards in (download.output) with vq.laion_prob. */
  laion: boolean;
}

export function vqStage(params: VqStageParams): Stage {
  return pendingStage("train-vq", "@laion/vq trainVQ", [params.cfg.vq.out]);
}
