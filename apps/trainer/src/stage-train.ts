import path from "node:path";
import { createProgress } from "@laion/cli-kit";
import {
  applyOverrides,
  type ConfigOverrides,
  deviceMemory,
  lastCheckpointStep,
  loadConfig,
  type ModelConfig,
  memoryPlan,
  missingInputs,
  PRESET_NAMES,
  type PresetName,
  parseConfig,
  resolveShape,
  SPECIALS,
  type TrainConfig,
  trainArgs,
  trainMultimodal,
  trainStatus,
} from "@laion/trainer-2b";
import { currentBackend, selectBackend } from "@laion/vq";
import type { AppConfig } from "./app-config.js";
import { commandLine } from "./command-line.js";
import { checkFromStatus, type Stage } from "./stage.js";

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
 * What the app sets on top of train.config: its paths and switches (output dir, VQ checkpoint, LAION
 * path and probability, the local data the VQ also reads, max_steps). Values the app config leaves
 * unset (laion_prob) keep the trainer's own default: one home per setting.
 */
export function trainOverridesFor(params: TrainStageParams): ConfigOverrides {
  const { cfg, laion } = params;
  return {
    outputDir: cfg.train.output_dir,
    vqCheckpoint: cfg.vq.out,
    laionPath: laion ? laionPath(cfg) : null,
    ...(laion && cfg.train.laion_prob !== undefined ? { laionProb: cfg.train.laion_prob } : {}),
    ...(cfg.train.text_only_prob !== null ? { textOnlyProb: cfg.train.text_only_prob } : {}),
    captions: cfg.local.captions,
    imageRoot: cfg.local.image_root,
    ...(cfg.local.corpus ? { corpus: cfg.local.corpus } : {}),
    ...(cfg.train.max_steps !== null ? { maxSteps: cfg.train.max_steps } : {}),
    // null: the model config's training.threads, else @laion/trainer-2b's default (all cores on wasm)
    ...(cfg.train.threads !== null ? { threads: cfg.train.threads } : {}),
    ...(cfg.train.devices !== null ? { devices: cfg.train.devices } : {}),
  };
}

/** The model config the app runs: train.config with trainOverridesFor on top; `choosePreset` settles `auto`. */
export function trainConfigFor(params: TrainStageParams): TrainConfig {
  const tc = applyOverrides(loadConfig(params.cfg.train.config), trainOverridesFor(params));
  // Not a flag of train-multimodal (the report is not the run): set here, so the "run it alone" hint
  // shows the model config's own report_samples.
  const extra = params.cfg.train.report_samples;
  return extra === null ? tc : { ...tc, training: { ...tc.training, report_samples: extra } };
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

function describe(device: { bytes: number; source: string; warning?: string }): string {
  return `${(device.bytes / 1e9).toFixed(1)} GB (${device.source})${device.warning ? ` [warning: ${device.warning}]` : ""}`;
}

async function backendName(): Promise<string> {
  return currentBackend() ?? (await selectBackend()).name;
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
  let choice: Promise<PresetChoice> | undefined;
  let ranOn: string | undefined;
  const chosen = () => {
    choice ??= backendName().then((b) => choosePreset(config(), cfg.train.preset, b));
    return choice;
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
        ...trainArgs(cfg.train.config, {
          ...trainOverridesFor(params),
          ...(cfg.train.preset !== "auto" ? { preset: cfg.train.preset as PresetName } : {}),
        }),
        "--resume",
      ]),
    // the status is asked for the config this run would use, preset choice included
    check: async () => checkFromStatus(trainStatus(await chosen().then((c) => c.config))),
    ranOn: () => ranOn,
    run: async ({ resume, overwrite, log }) => {
      const choice = await chosen();
      log(choice.reason);
      const maxSteps = choice.config.training.max_steps;
      let last = resume ? (lastCheckpointStep(out) ?? 0) : 0;
      // the bar counts the steps this run will do (from the resumed step on)
      const progress = createProgress({ label: "steps", total: Math.max(0, maxSteps - last), unit: "steps" });
      const result = await trainMultimodal({
        config: choice.config,
        resume,
        overwrite,
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
      const { backend, threads, helpers } = result.plan;
      ranOn = `${backend}, ${threads} ${helpers === "process" ? "device" : "thread"}${threads === 1 ? "" : "s"}`;
      log(`trained on ${ranOn}; report: ${report}`);
    },
  };
}

/** The trainer's device preflight for --dry-run: the preset choice and the trainer's own plan. */
export async function trainPreflight(cfg: AppConfig): Promise<string> {
  const lines = ["Trainer preflight:"];
  const tc = trainConfigFor({ cfg, laion: cfg.laion.enabled });
  // the VQ checkpoint and the LAION shards are written by the stages before: only the rest must exist now
  const missing = missingInputs(tc, ["training.vq_checkpoint", "training.laion_path"]);
  if (missing.length > 0)
    throw new Error(`--dry-run: inputs missing (fix these before running):\n  ${missing.join("\n  ")}`);
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
