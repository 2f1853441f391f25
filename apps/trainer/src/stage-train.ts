import type { AppConfig } from "./app-config.js";
import type { Stage } from "./stage.js";
import { pendingStage } from "./stage-pending.js";

export interface TrainStageParams {
  cfg: AppConfig;
  laion: boolean;
}

export function trainStage(params: TrainStageParams): Stage {
  return pendingStage("train", "@laion/trainer-2b train", [params.cfg.train.output_dir]);
}

/** The trainer's device preflight for --dry-run. */
export async function trainPreflight(cfg: AppConfig): Promise<string> {
  return `Trainer preflight: (not wired yet: needs @laion/trainer-2b) for ${cfg.train.config}`;
}
