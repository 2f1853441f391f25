import { readFile } from "node:fs/promises";
import {
  type CliCommand,
  CliError,
  type CliIo,
  checkFlagPath,
  createProgress,
  describeConfigIssue,
  floatOption,
  intOption,
  type Progress,
  packageVersion,
  runCommand,
} from "@laion/cli-kit";
import type { Command } from "commander";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { type BackendName, selectBackend } from "./backend.js";
import { configSchema, VQ_PRESETS, type VQConfig, type VQPresetName } from "./config.js";
import { BACKEND_FLAG, backendFlag, devicesOption, threadsOption } from "./device-flags.js";
import { trainVQ } from "./train-vq.js";
import type { TrainVQEvent, TrainVQParams } from "./train-vq-params.js";

/** Options a YAML --config may set (kebab-case or snake_case keys, as on the command line), with their types. */
const runSchema = z
  .strictObject({
    captions: z.string(),
    imageRoot: z.string(),
    laionTars: z.string(),
    laionProb: z.number().min(0).max(1),
    maxSteps: z.number().int().min(1),
    epochs: z.number().int().min(1),
    out: z.string(),
    imageSize: z.number().int(),
    codebookSize: z.number().int(),
    batchSize: z.number().int().min(1),
    lr: z.number().positive(),
    seed: z.number().int(),
    resume: z.boolean(),
    evalEvery: z.number().int().min(0),
    backend: z.string(),
    threads: z.number().int().min(1),
    devices: z.number().int().min(1),
    preset: z.string(),
  })
  .partial();
const RUN_KEYS = Object.keys(runSchema.shape);
const modelSchema = configSchema.partial().strict();
const ALLOWED_KEYS = { "": [...RUN_KEYS, "model"], model: Object.keys(configSchema.shape) };

const camel = (k: string) => k.replace(/[-_]([a-z])/g, (_, c: string) => c.toUpperCase());

async function readYamlConfig(
  file: string,
): Promise<{ run: Record<string, unknown>; model: Partial<VQConfig> }> {
  let doc: unknown;
  try {
    doc = parseYaml(await readFile(file, "utf8"));
  } catch (err) {
    throw new CliError(`--config ${file}: ${(err as Error).message}`);
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc))
    throw new CliError(`--config ${file}: expected a mapping of options`);
  // Keys are matched in camelCase; messages give them back as the file wrote them.
  const written = new Map<string, string>();
  const toCamel = (mapping: object, prefix: string) =>
    Object.fromEntries(
      Object.entries(mapping).map(([key, value]) => {
        written.set(`${prefix}${camel(key)}`, `${prefix}${key}`);
        return [camel(key), value];
      }),
    );
  const { model: rawModel, ...rawRun } = toCamel(doc, "");
  const issues: string[] = [];
  const check = <T>(schema: z.ZodType<T>, value: unknown, section: string): T | undefined => {
    const r = schema.safeParse(value);
    if (r.success) return r.data;
    const prefix = section ? `${section}.` : "";
    const asWritten = (key: string) => (written.get(prefix + key) ?? prefix + key).slice(prefix.length);
    for (const issue of r.error.issues) {
      const [first, ...rest] = issue.path.map(String);
      const path = [section, ...(first === undefined ? [] : [asWritten(first), ...rest])].filter(Boolean);
      const keys = issue.code === "unrecognized_keys" ? issue.keys.map(asWritten) : undefined;
      issues.push(describeConfigIssue({ ...issue, path, ...(keys ? { keys } : {}) }, ALLOWED_KEYS));
    }
    return undefined;
  };
  const run = check(runSchema, rawRun, "") ?? {};
  let model: Partial<VQConfig> = {};
  if (rawModel !== undefined) {
    if (rawModel === null || typeof rawModel !== "object" || Array.isArray(rawModel))
      issues.push("model: must be a mapping of VQ config fields");
    else model = (check(modelSchema, toCamel(rawModel, "model."), "model") ?? {}) as Partial<VQConfig>;
  }
  if (issues.length > 0) throw new CliError(`--config ${file}: ${issues.join("; ")}`);
  return { run, model };
}

/** The flags of `train-visual-vq` (commander's camelCased names); a YAML --config may set the same ones. */
export type TrainVqCliOptions = z.infer<typeof runSchema> & {
  config?: string;
  overwrite?: boolean;
  json?: boolean;
};

function defineData(program: Command): void {
  program
    .optionsGroup("Data (--captions and/or --laion-tars required):")
    .option("--captions <file>", "captions.json of the local image set")
    .option("--image-root <dir>", "folder the captions' image paths are relative to")
    .option(
      "--laion-tars <shards>",
      "LAION webdataset shards (path, glob, {00000..00127} range, URL); needs --max-steps",
    )
    .option(
      "--laion-prob <p>",
      "fraction of samples drawn from LAION when both sources are given (default 0.5)",
      floatOption("--laion-prob", { min: 0, max: 1 }),
    );
}

function defineModel(program: Command): void {
  program
    .optionsGroup("Model:")
    .option(
      "--config <yaml>",
      "YAML file with any of these options (kebab or snake case) and a `model:` mapping of VQ config fields",
    )
    .option("--preset <name>", `architecture preset: ${Object.keys(VQ_PRESETS).join(", ")} (default demo)`)
    .option("--image-size <px>", "image side in pixels", intOption("--image-size", { min: 16, max: 1024 }))
    .option("--codebook-size <n>", "number of codes", intOption("--codebook-size", { min: 2, max: 65536 }));
}

function defineTraining(program: Command): void {
  program
    .optionsGroup("Training:")
    .option("--max-steps <n>", "stop after n optimizer steps", intOption("--max-steps", { min: 1 }))
    .option(
      "--epochs <n>",
      "passes over the local images (default 1, or repeat until --max-steps when only that is given; ignored with --laion-tars)",
      intOption("--epochs", { min: 1 }),
    )
    .option(
      "--batch-size <n>",
      "images per step (default 16)",
      intOption("--batch-size", { min: 1, max: 4096 }),
    )
    .option(
      "--lr <lr>",
      "Adam learning rate (default: the preset's, 5e-4, 2e-3 for 64-f4, 3e-3 for 64-f8-small and 64-f4-small; on --resume the saved run's; warm-up then cosine decay to 10 %)",
      floatOption("--lr", { min: 1e-7, max: 1 }),
    )
    .option(
      "--seed <n>",
      "seed for init, augmentation and restarts (default 0)",
      intOption("--seed", { min: 0 }),
    )
    .option(...BACKEND_FLAG)
    .addOption(threadsOption("each batch"))
    .addOption(devicesOption());
}

function defineOutput(program: Command): void {
  program
    .optionsGroup("Output:")
    .option(
      "--out <path>",
      "checkpoint path; safetensors even when named .pt (default model_output/visual_vq.pt)",
    )
    .option("--resume", "continue from --out and <out>.optim.safetensors")
    .option(
      "--overwrite",
      "when --out was trained with other settings or data: keep its files as <file>.prev-<n> and start over",
    )
    .option(
      "--eval-every <n>",
      "evaluate, write metrics.jsonl + a reconstruction grid, and checkpoint every n steps (default 200)",
      intOption("--eval-every", { min: 1 }),
    )
    .option("--json", "progress as JSON lines even on a terminal");
}

/** The flags over the --config YAML (a flag given wins), and the YAML's `model:` mapping. */
async function mergedOptions(
  flags: TrainVqCliOptions,
): Promise<{ opt: TrainVqCliOptions; model: Partial<VQConfig> }> {
  const yaml = flags.config ? await readYamlConfig(flags.config) : { run: {}, model: {} };
  const given = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
  return { opt: { ...yaml.run, ...given } as TrainVqCliOptions, model: { ...yaml.model } };
}

/** Checks what one flag's parser cannot: the combinations, and names from lists. Errors name the flags. */
function checkOptions(opt: TrainVqCliOptions): { backend: BackendName | undefined; preset: VQPresetName } {
  if (opt.laionTars !== undefined && opt.maxSteps === undefined) {
    throw new CliError("--laion-tars streams LAION forever (resampled), so --max-steps is required with it");
  }
  if (opt.captions === undefined && opt.laionTars === undefined) {
    throw new CliError("no training data: give --captions (with --image-root) and/or --laion-tars");
  }
  const backend = backendFlag(opt.backend);
  const preset = (opt.preset ?? "demo") as VQPresetName;
  if (!(preset in VQ_PRESETS))
    throw new CliError(`--preset must be one of ${Object.keys(VQ_PRESETS).join(", ")}, got "${preset}"`);
  return { backend, preset };
}

/** Options → trainVQ's params (without the callbacks): the default for --out, the rest as given (--threads unset: trainVQ's default, all cores on wasm). */
export function trainVqParams(
  opt: TrainVqCliOptions,
  yamlModel: Partial<VQConfig>,
  preset: VQPresetName,
): Omit<TrainVQParams, "log" | "signal" | "onEvent"> {
  const config: Partial<VQConfig> = { ...yamlModel };
  if (opt.imageSize !== undefined) config.imageSize = opt.imageSize;
  if (opt.codebookSize !== undefined) config.codebookSize = opt.codebookSize;
  return {
    out: opt.out ?? "model_output/visual_vq.pt",
    preset,
    config,
    captions: opt.captions,
    imageRoot: opt.imageRoot,
    laionTars: opt.laionTars,
    laionProb: opt.laionProb,
    maxSteps: opt.maxSteps,
    epochs: opt.epochs,
    batchSize: opt.batchSize,
    lr: opt.lr,
    seed: opt.seed,
    resume: opt.resume === true,
    overwrite: opt.overwrite === true,
    evalEvery: opt.evalEvery,
    threads: opt.threads,
    devices: opt.devices,
  };
}

/** Training events → the progress reporter: a bar tick per step, a line per start/eval/skip/replay. */
function reportEvents(progress: Progress): (e: TrainVQEvent) => void {
  return (e) => {
    if (e.type === "start") {
      for (const line of e.devices ?? []) progress.log(line);
      progress.log(
        `${e.devices ? `${e.threads} devices, ` : e.threads > 1 ? `${e.threads} threads, ` : ""}${e.parameters} parameters, ${(e.flopsPerImage / 1e6).toFixed(0)} MFLOP/image forward, ${e.evalImages} eval images (${e.evalDistinct} distinct ${e.heldOut ? "held-out" : "training (too few held-out keys)"}${e.evalCrops ? ` + ${e.evalCrops} seeded crops/flips` : ""})${e.step ? `, resuming at step ${e.step}` : ""}`,
      );
    } else if (e.type === "step") {
      progress.tick(1, { step: e.step, loss: e.loss, "img/s": e.imagesPerSecond, usage: e.batchUsage });
    } else if (e.type === "eval") {
      progress.log(
        `step ${e.step}: PSNR ${e.psnr.toFixed(2)} dB, codebook usage ${(100 * e.usage).toFixed(1)} %, perplexity ${e.perplexity.toFixed(1)} → ${e.grid}`,
      );
    } else if (e.type === "skip") {
      progress.log(`skipped ${e.key}: ${e.reason}`);
    } else if (e.type === "replay") {
      progress.log(
        `resume: replaying epoch ${e.epoch} past its first ${e.samples} samples (read, not decoded)`,
      );
    }
  };
}

/**
 * The first Ctrl-C aborts the returned signal (the run stops cleanly, saying `message`); the handler
 * is then gone, so a second Ctrl-C is Node's default: a kill.
 */
export function abortOnInterrupt(
  progress: Pick<Progress, "log">,
  message: string,
): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = () => {
    progress.log(message);
    controller.abort();
  };
  process.once("SIGINT", onSignal);
  return { signal: controller.signal, dispose: () => process.off("SIGINT", onSignal) };
}

/** `train-visual-vq`: flags (over a YAML --config) → trainVQ, with a progress bar. */
export const trainVqCommand: CliCommand<TrainVqCliOptions> = {
  name: "train-visual-vq",
  version: () => packageVersion(import.meta.url),
  description:
    "Train the VQ image tokenizer (TensorFlow.js) on your captioned images and/or LAION webdataset shards.",
  define(program) {
    defineData(program);
    defineModel(program);
    defineTraining(program);
    defineOutput(program);
  },
  async run(flags, ctx) {
    const { opt, model } = await mergedOptions(flags);
    const { backend, preset } = checkOptions(opt);
    await selectBackend({ prefer: backend, log: ctx.log });
    const params = trainVqParams(opt, model, preset);
    checkFlagPath(params.out, { flag: "--out", kind: "file" });
    const progress = createProgress({
      label: "steps",
      unit: "steps",
      total: params.maxSteps,
      json: opt.json === true ? true : undefined,
      stream: ctx.progressStream,
    });
    const interrupt = abortOnInterrupt(
      progress,
      "interrupted: finishing the step and writing a checkpoint (Ctrl-C again to kill)",
    );
    try {
      const result = await trainVQ({
        ...params,
        log: (m) => progress.log(m),
        signal: interrupt.signal,
        onEvent: reportEvents(progress),
      });
      progress.done({
        steps: result.steps,
        out: params.out,
        metrics: result.metricsPath,
        psnr: result.lastEval?.psnr,
        usage: result.lastEval?.usage,
      });
      result.model.dispose();
    } catch (err) {
      throw new CliError((err as Error).message);
    } finally {
      interrupt.dispose();
    }
  },
};

/** Run `train-visual-vq` with these arguments (tests pass their own streams and env). */
export function trainVisualVq(argv: readonly string[], io: CliIo = {}): Promise<void> {
  return runCommand(trainVqCommand, argv, io);
}
