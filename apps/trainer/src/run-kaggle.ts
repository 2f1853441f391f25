import { type AppConfig, laionFromEnv, loadAppConfig, parseAppConfig } from "./app-config.js";
import { buildStages, type StageName } from "./kaggle.js";
import {
  formatPlan,
  formatSummary,
  type PipelineSummary,
  planPipeline,
  runPipeline,
  StageFailedError,
} from "./run-pipeline.js";
import type { Stage } from "./stage.js";

export interface KaggleParams {
  /** App config file (configs/kaggle.yaml). */
  config: string;
  /** --laion; when undefined, USE_LAION from `env`, else the config's laion.enabled. */
  laion?: boolean;
  /** Run only this stage (the fetch/download/train-vq/train targets). */
  only?: StageName;
  /** Flag overrides on top of the config file. */
  overrides?: (cfg: AppConfig) => AppConfig;
  token?: string;
  dryRun?: boolean;
  force?: boolean;
  rerunCommand: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** Extra lines for --dry-run after the stage plan (the trainer's device preflight). */
  preflight?: (cfg: AppConfig) => Promise<string>;
}

/** Resolves the effective app config: file, then USE_LAION, then --laion, then the other flags. */
export function resolveKaggleConfig(
  params: Pick<KaggleParams, "config" | "laion" | "overrides" | "env">,
): AppConfig {
  let cfg = loadAppConfig(params.config);
  const fromEnv = laionFromEnv(params.env ?? process.env);
  const enabled = params.laion ?? fromEnv ?? cfg.laion.enabled;
  cfg = { ...cfg, laion: { ...cfg.laion, enabled } };
  if (params.overrides) cfg = parseAppConfig(params.overrides(cfg), "flags");
  return cfg;
}

/**
 * `nx run trainer:kaggle`: the stages for the effective config (all four with LAION, VQ + model
 * without), each skipped when complete; or one stage alone (`only`). `dryRun` prints the plan and the
 * trainer's preflight instead of running.
 */
export async function runKaggle(params: KaggleParams): Promise<PipelineSummary | null> {
  const log = params.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const cfg = resolveKaggleConfig(params);
  let stages: Stage[] = buildStages({ cfg, ...(params.token ? { token: params.token } : {}) });
  if (params.only) {
    const only = params.only;
    const picked = stages.filter((s) => s.name === only);
    if (picked.length === 0) {
      // fetch/download only exist with LAION on; say so instead of doing nothing
      throw new Error(
        `stage "${only}" is part of the pipeline only with LAION on: add --laion or set USE_LAION=1`,
      );
    }
    stages = picked;
  }
  log(
    `LAION ${cfg.laion.enabled ? `on: ${cfg.laion.hf_dataset}, up to ${cfg.laion.max_samples ?? "all"} rows` : "off: local data only (USE_LAION=1 or --laion to add it)"}`,
  );
  if (params.dryRun) {
    log(formatPlan(await planPipeline({ stages, force: params.force ?? false })));
    if (params.preflight) log(await params.preflight(cfg));
    return null;
  }
  try {
    const summary = await runPipeline({
      stages,
      rerunCommand: params.rerunCommand,
      log,
      force: params.force ?? false,
    });
    log(formatSummary(summary));
    return summary;
  } catch (err) {
    if (err instanceof StageFailedError) log(formatSummary(err.summary));
    throw err;
  }
}
