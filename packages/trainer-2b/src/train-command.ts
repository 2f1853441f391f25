import {
  type CliCommand,
  type CliContext,
  CliError,
  type CliIo,
  checkFlagPath,
  createProgress,
  floatOption,
  intOption,
  type Progress,
  packageVersion,
  runCommand,
} from "@laion/cli-kit";
import { BACKEND_ORDER, devicesOption, threadsOption } from "@laion/vq";
import { type Command, Option } from "commander";
import { applyOverrides, type ConfigOverrides, loadConfig, parseConfig, type TrainConfig } from "./config.js";
import { ASSUMED_GPU_GB } from "./preflight.js";
import { PRESET_NAMES } from "./presets.js";
import type { MetricRecord } from "./report.js";
import { missingInputs } from "./run-manifest.js";
import { trainMultimodal } from "./train.js";

/** The flags of `train-multimodal`: the config overrides (flags beat the YAML) and how to run. */
export interface TrainMultimodalCliOptions extends Omit<ConfigOverrides, "laionPath"> {
  config?: string;
  /** A path, or "null"/"none"/"" for no LAION. */
  laionPath?: string;
  resume?: boolean;
  dryRun?: boolean;
  overwrite?: boolean;
  json?: boolean;
}

function defineConfig(program: Command): void {
  program
    .optionsGroup("Config (flags override the YAML):")
    .option("--config <file>", "YAML config (see docs/trainer.md); defaults apply when omitted")
    .option("--output-dir <dir>", "where checkpoints, metrics.jsonl and report.html go (output_dir)")
    .addOption(new Option("--preset <name>", "model preset (model.preset)").choices(PRESET_NAMES))
    .option("--max-steps <n>", "optimizer steps (training.max_steps)", intOption("--max-steps", { min: 1 }))
    .option(
      "--batch-size <n>",
      "micro-batch size (training.batch_size)",
      intOption("--batch-size", { min: 1 }),
    );
}

function defineData(program: Command): void {
  program
    .optionsGroup("Data:")
    .option("--vq-checkpoint <file>", "VQ image tokenizer checkpoint (training.vq_checkpoint)")
    .option(
      "--laion-path <path>",
      "LAION webdataset: folder, brace pattern, http(s):// or s3:// URL; 'null' for none",
    )
    .option(
      "--laion-prob <p>",
      "share of steps that draw from LAION (training.laion_prob)",
      floatOption("--laion-prob", { min: 0, max: 1 }),
    )
    .option(
      "--text-only-prob <t>",
      "share of the non-LAION steps that are text-only (training.text_only_prob); the rest are local captioned images",
      floatOption("--text-only-prob", { min: 0, max: 1 }),
    )
    .option("--captions <file>", "captioned images: captions.json (data.captions)")
    .option("--image-root <dir>", "folder the captions' image paths are relative to (data.image_root)")
    .option("--corpus <paths...>", "text corpus files/folders (data.corpus)");
}

function defineDevice(program: Command): void {
  program
    .optionsGroup("Device:")
    .addOption(
      new Option("--backend <name>", "tfjs backend (default: first that loads)").choices([
        "auto",
        ...BACKEND_ORDER,
      ]),
    )
    .option(
      "--device-memory-gb <gb>",
      `device memory for the preflight check (training.device_memory_gb; GPU default ${ASSUMED_GPU_GB} = Kaggle T4)`,
      floatOption("--device-memory-gb", { min: 0.01 }),
    )
    .addOption(threadsOption("each micro-batch", "training.threads"))
    .addOption(devicesOption("training.devices"));
}

function defineRun(program: Command): void {
  program
    .optionsGroup("Run:")
    .option("--resume", "continue from the last checkpoint in the output dir (same data order)")
    .option("--dry-run", "print the plan (parameters, memory, backend, mixture) and exit")
    .option(
      "--overwrite",
      "when the output dir holds a run with other settings or data: keep it as <dir>.prev-<n> and start over",
    )
    .option("--json", "progress as JSON lines even on a terminal");
}

/** The YAML (or the defaults) with the flags applied; `--laion-path null` means no LAION. */
export function configFromOptions(o: TrainMultimodalCliOptions): TrainConfig {
  const { config, laionPath, resume: _r, dryRun: _d, overwrite: _o, json: _j, ...overrides } = o;
  const base = config ? loadConfig(config) : parseConfig({});
  return applyOverrides(base, {
    ...overrides,
    ...(laionPath !== undefined
      ? { laionPath: ["null", "none", ""].includes(laionPath) ? null : laionPath }
      : {}),
  });
}

/** Paths named by flags fail here, by flag, not as a bare EISDIR/EEXIST from deep inside the run. */
function checkPaths(config: TrainConfig, dryRun: boolean): void {
  checkFlagPath(config.output_dir, { flag: "--output-dir (output_dir)", kind: "folder" });
  if (config.training.vq_checkpoint)
    checkFlagPath(config.training.vq_checkpoint, {
      flag: "--vq-checkpoint (training.vq_checkpoint)",
      kind: "file",
      mustExist: !dryRun,
    });
  // --dry-run answers "would this run?": every input must be there, not only the memory plan
  const missing = dryRun ? missingInputs(config) : [];
  if (missing.length > 0) throw new CliError(`--dry-run: inputs missing:\n  ${missing.join("\n  ")}`);
}

/** A progress bar started at the first step (a resumed run starts past 1); log lines go above it. */
function stepProgress(o: TrainMultimodalCliOptions, ctx: CliContext) {
  let progress: Progress | undefined;
  return {
    // The plan goes to stdout on a dry run (it is the output); everything else to stderr.
    log: (m: string) => {
      if (o.dryRun && m.startsWith("backend ")) ctx.stdout.write(`${m}\n`);
      else if (progress) progress.log(m);
      else ctx.log(m);
    },
    onStep: (r: MetricRecord, max: number) => {
      progress ??= createProgress({
        label: "steps",
        total: max,
        stream: ctx.progressStream,
        ...(o.json ? { json: true } : {}),
      });
      if (progress.count === 0 && r.step > 1) progress.tick(r.step - 1);
      progress.tick(1, {
        step: r.step,
        loss: r.loss,
        "tok/s": r.tokens_per_s ?? 0,
        lr: Number((r.lr ?? 0).toPrecision(3)),
      });
    },
    done: (summary: Record<string, number>) => progress?.done(summary),
  };
}

/** `train-multimodal`: flags over the YAML config → trainMultimodal; a dry run that does not fit exits 2. */
export const trainMultimodalCommand: CliCommand<TrainMultimodalCliOptions> = {
  name: "train-multimodal",
  version: () => packageVersion(import.meta.url),
  description:
    "Train the multimodal decoder (Sinhala text + captioned images + optional LAION) in TensorFlow.js",
  define(program) {
    defineConfig(program);
    defineData(program);
    defineDevice(program);
    defineRun(program);
  },
  async run(o, ctx) {
    const config = configFromOptions(o);
    const dryRun = Boolean(o.dryRun);
    checkPaths(config, dryRun);
    const progress = stepProgress(o, ctx);
    const result = await trainMultimodal({
      config,
      resume: Boolean(o.resume),
      overwrite: Boolean(o.overwrite),
      dryRun,
      log: progress.log,
      onStep: progress.onStep,
    }).catch((err: Error) => {
      throw new CliError(err.message);
    });
    progress.done({ steps: result.records.filter((r) => r.type === "train").length });
    // A dry run that does not fit exits 2, so scripts can test a config before a long job.
    if (dryRun) ctx.setExitCode(result.plan.fits ? 0 : 2);
    else
      ctx.stdout.write(
        `report: ${result.outputDir}/report.html\nmetrics: ${result.outputDir}/metrics.jsonl\n`,
      );
  },
};

/** Run `train-multimodal` with these arguments (tests pass their own streams and env). */
export function trainMultimodalCli(argv: readonly string[], io: CliIo = {}): Promise<void> {
  return runCommand(trainMultimodalCommand, argv, io);
}
