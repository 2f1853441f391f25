import fs from "node:fs";
import path from "node:path";
import { createProgress } from "@laion/cli-kit";
import {
  applyOverrides,
  deviceMemory,
  findCheckpoint,
  loadConfig,
  type ModelConfig,
  memoryPlan,
  PRESET_NAMES,
  type PresetName,
  parseConfig,
  resolveShape,
  SPECIALS,
  type TrainConfig,
  trainMultimodal,
} from "@laion/trainer-2b";
import { currentBackend, selectBackend } from "@laion/vq";
import type { AppConfig } from "./app-config.js";
import { commandLine, readJson } from "./parquet-check.js";
import type { Stage } from "./stage.js";

export interface TrainStageParams {
  cfg: AppConfig;
  /** Mix LAION in (training.laion_path = encode.output, or download.output without the encode stage; laion_prob = train.laion_prob). */
  laion: boolean;
}

/** What the model reads of LAION: the code shards of the encode stage, or the image shards when it is off. */
export function laionPath(cfg: AppConfig): string {
  return cfg.encode.enabled ? cfg.encode.output : cfg.download.output;
}

/**
 * The model config the app runs: train.config with the app's paths and switches on top (output dir,
 * VQ checkpoint, LAION path and probability, the local captioned images, max_steps). The preset is
 * left as the file says; `choosePreset` settles `auto`.
 */
export function trainConfigFor(params: TrainStageParams): TrainConfig {
  const { cfg, laion } = params;
  const base = loadConfig(cfg.train.config);
  const withPaths = parseConfig(
    {
      ...base,
      data: {
        ...base.data,
        captions: cfg.local.captions,
        image_root: cfg.local.image_root,
        ...(cfg.local.corpus ? { corpus: cfg.local.corpus } : {}),
      },
    },
    cfg.train.config,
  );
  return applyOverrides(withPaths, {
    outputDir: cfg.train.output_dir,
    vqCheckpoint: cfg.vq.out,
    laionPath: laion ? laionPath(cfg) : null,
    laionProb: laion ? cfg.train.laion_prob : 0,
    ...(cfg.train.text_only_prob !== null ? { textOnlyProb: cfg.train.text_only_prob } : {}),
    ...(cfg.train.max_steps !== null ? { maxSteps: cfg.train.max_steps } : {}),
  });
}

function modelConfigOf(tc: TrainConfig): ModelConfig {
  const s = resolveShape(tc);
  return {
    vocabSize: tc.model.vocab ?? SPECIALS.length + s.textVocab + s.codebookSize,
    dModel: s.dModel,
    nLayers: s.nLayers,
    nHeads: s.nHeads,
    dFF: s.dFF,
    seqLen: s.seqLen,
    ropeTheta: s.ropeTheta,
    normEps: s.normEps,
  };
}

export interface PresetChoice {
  config: TrainConfig;
  /** One line for the log: what was chosen and why. */
  reason: string;
}

/**
 * Settles train.preset. A preset name is used as is. `auto` keeps the config's preset when the
 * trainer's memory arithmetic says it fits the device, and otherwise takes the largest preset (with
 * the largest batch size ≤ the configured one, grad_accum raised to keep the effective batch) that
 * does — e.g. the 2B shape on a 16 GB T4 becomes a smaller model rather than an out-of-memory error.
 */
export function choosePreset(tc: TrainConfig, preset: string, backend: string): PresetChoice {
  if (preset !== "auto") {
    if (!PRESET_NAMES.includes(preset as PresetName))
      throw new Error(
        `train.preset "${preset}" is not a trainer preset; known: auto, ${PRESET_NAMES.join(", ")}`,
      );
    return {
      config: applyOverrides(tc, { preset: preset as PresetName }),
      reason: `preset ${preset} (as configured)`,
    };
  }
  const device = deviceMemory(backend, tc.training.device_memory_gb);
  const fits = (c: TrainConfig) =>
    memoryPlan(modelConfigOf(c), c.training.batch_size, c.training.grad_accum).totalBytes <= device.bytes;
  if (fits(tc)) return { config: tc, reason: `preset ${tc.model.preset} fits ${describe(device)}` };
  const effective = tc.training.batch_size * tc.training.grad_accum;
  const order = [...PRESET_NAMES].reverse();
  for (const name of order) {
    for (let b = tc.training.batch_size; b >= 1; b = Math.floor(b / 2)) {
      const candidate = applyOverrides(tc, { preset: name, batchSize: b });
      candidate.training.grad_accum = Math.max(1, Math.ceil(effective / b));
      if (fits(candidate))
        return {
          config: parseConfig(candidate, "auto preset"),
          reason:
            `preset ${tc.model.preset} does not fit ${describe(device)}; using ${name} ` +
            `(batch_size ${b} × grad_accum ${candidate.training.grad_accum})`,
        };
      if (b === 1) break;
    }
  }
  throw new Error(
    `no trainer preset fits ${describe(device)}; set training.device_memory_gb or use a larger device`,
  );
}

function describe(device: { bytes: number; source: string }): string {
  return `${(device.bytes / 1e9).toFixed(1)} GB (${device.source})`;
}

async function backendName(): Promise<string> {
  return currentBackend() ?? (await selectBackend()).name;
}

/** The last checkpoint's step in an output dir, or null. */
function checkpointStep(outputDir: string): number | null {
  const dir = findCheckpoint(outputDir);
  if (!dir) return null;
  const state = readJson<{ step?: number }>(path.join(dir, "state.json"));
  return typeof state?.step === "number" ? state.step : null;
}

/**
 * Stage 4: train the multimodal model with @laion/trainer-2b (text corpus, the user's captioned
 * images, LAION shards when on), writing checkpoints, metrics.jsonl and report.html to
 * train.output_dir. Complete when the last checkpoint is at max_steps and report.html exists; an
 * earlier checkpoint is resumed from (same data order, the mixer state is in the checkpoint).
 */
export function trainStage(params: TrainStageParams): Stage {
  const { cfg } = params;
  const out = cfg.train.output_dir;
  const report = path.join(out, "report.html");
  // the config is read lazily: a missing model config is this stage's error, not the app's
  let tc: TrainConfig | undefined;
  const config = () => {
    tc ??= trainConfigFor(params);
    return tc;
  };
  return {
    name: "train",
    describe: () => {
      const t = config().training;
      return (
        `${cfg.train.config} (preset ${cfg.train.preset === "auto" ? `auto from ${config().model.preset}` : cfg.train.preset}) → ${report}, ` +
        `${t.max_steps} steps, LAION ${t.laion_path ? `p=${t.laion_prob} from ${t.laion_path}` : "off"}`
      );
    },
    outputs: () => [report, path.join(out, "metrics.jsonl"), path.join(out, "checkpoints")],
    command: () =>
      commandLine([
        "npx",
        "train-multimodal",
        "--config",
        cfg.train.config,
        "--output-dir",
        out,
        "--vq-checkpoint",
        cfg.vq.out,
        ...(params.laion ? ["--laion-path", laionPath(cfg), "--laion-prob", cfg.train.laion_prob] : []),
        ...(cfg.train.text_only_prob !== null ? ["--text-only-prob", cfg.train.text_only_prob] : []),
        ...(cfg.train.max_steps !== null ? ["--max-steps", cfg.train.max_steps] : []),
        ...(cfg.train.preset !== "auto" ? ["--preset", cfg.train.preset] : []),
        "--resume",
      ]),
    check: async () => {
      const maxSteps = config().training.max_steps;
      const step = checkpointStep(out);
      if (step === null) return { complete: false, partial: false, detail: `no checkpoint in ${out} yet` };
      if (step >= maxSteps && fs.existsSync(report))
        return {
          complete: true,
          partial: false,
          detail: `checkpoint at step ${step}/${maxSteps}, ${report}`,
        };
      return { complete: false, partial: true, detail: `checkpoint at step ${step}/${maxSteps}` };
    },
    run: async ({ resume, log }) => {
      const choice = choosePreset(config(), cfg.train.preset, await backendName());
      log(choice.reason);
      const maxSteps = choice.config.training.max_steps;
      let last = resume ? (checkpointStep(out) ?? 0) : 0;
      // the bar counts the steps this run will do (from the resumed step on)
      const progress = createProgress({ label: "steps", total: Math.max(0, maxSteps - last), unit: "steps" });
      await trainMultimodal({
        config: choice.config,
        resume,
        log: (m) => progress.log(m),
        onStep: (record) => {
          progress.tick(record.step - last, {
            loss: record.loss,
            tok_s: Math.round(record.tokens_per_s ?? 0),
          });
          last = record.step;
        },
      });
      progress.done({ steps: last });
      log(`report: ${report}`);
    },
  };
}

/** The trainer's device preflight for --dry-run: the preset choice and the trainer's own plan. */
export async function trainPreflight(cfg: AppConfig): Promise<string> {
  const lines = ["Trainer preflight:"];
  const tc = trainConfigFor({ cfg, laion: cfg.laion.enabled });
  const backend = await backendName();
  const choice = choosePreset(tc, cfg.train.preset, backend);
  lines.push(`  ${choice.reason}`);
  await trainMultimodal({
    config: choice.config,
    dryRun: true,
    log: (m) => lines.push(...m.split("\n").map((l) => `  ${l}`)),
  });
  return lines.join("\n");
}
