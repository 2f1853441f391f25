// laion-trainer: the app's commands (kaggle, demo, and each stage alone). Thin: options → library calls.
import path from "node:path";
import {
  type CliCommand,
  type CliContext,
  type CliIo,
  type CliSubcommand,
  floatOption,
  intOption,
  packageVersion,
  runCommand,
} from "@laion/cli-kit";
import type { Command } from "commander";
import type { AppConfig } from "./app-config.js";
import { commandLine } from "./command-line.js";
import { runDemo } from "./demo.js";
import { findRepoRoot } from "./find-root.js";
import { STAGE_NAMES, type StageName } from "./kaggle.js";
import { runKaggle } from "./run-kaggle.js";
import { trainPreflight } from "./stage-train.js";

interface KaggleFlags {
  config: string;
  laion?: boolean;
  hfToken?: string;
  maxSamples?: number;
  laionProb?: number;
  textOnlyProb?: number;
  vqMaxSteps?: number;
  maxSteps?: number;
  trainConfig?: string;
  preset?: string;
  dryRun?: boolean;
  force?: boolean;
}

/** How the user reruns what they just ran: the nx target when run by nx, else this CLI. */
function rerunCommand(target: string, argv: readonly string[], env: NodeJS.ProcessEnv): string {
  // never echo the token: drop `--hf-token X` and `--hf-token=X`
  const args = argv.filter((a, i) => !a.startsWith("--hf-token") && argv[i - 1] !== "--hf-token");
  if (target === "demo" && args.length === 0) return "npm run demo";
  if (env["NX_TASK_TARGET_TARGET"])
    return `npx nx run trainer:${target}${args.length ? ` --args="${args.join(" ")}"` : ""}`;
  return commandLine(["node", "apps/trainer/dist/cli.js", target, ...args]);
}

function applyFlags(flags: KaggleFlags): (cfg: AppConfig) => AppConfig {
  return (cfg) => ({
    ...cfg,
    laion: { ...cfg.laion, ...(flags.maxSamples !== undefined ? { max_samples: flags.maxSamples } : {}) },
    vq: { ...cfg.vq, ...(flags.vqMaxSteps !== undefined ? { max_steps: flags.vqMaxSteps } : {}) },
    train: {
      ...cfg.train,
      ...(flags.laionProb !== undefined ? { laion_prob: flags.laionProb } : {}),
      ...(flags.textOnlyProb !== undefined ? { text_only_prob: flags.textOnlyProb } : {}),
      ...(flags.maxSteps !== undefined ? { max_steps: flags.maxSteps } : {}),
      ...(flags.trainConfig !== undefined ? { config: flags.trainConfig } : {}),
      ...(flags.preset !== undefined ? { preset: flags.preset } : {}),
    },
  });
}

function defineKaggleOptions(cmd: Command): void {
  cmd
    .optionsGroup("Pipeline:")
    .option("--config <file>", "app config with the defaults", "configs/kaggle.yaml")
    .option("--laion", "add LAION: fetch → download → VQ → model with LAION mixed in (also USE_LAION=1)")
    .option("--no-laion", "local data only, even when USE_LAION=1")
    .option(
      "--hf-token <token>",
      "Hugging Face token for the gated dataset (default: HF_TOKEN; never printed)",
    )
    .option("--dry-run", "print the stage plan and the trainer's device preflight; run nothing")
    .option("--force", "run stages again even when their outputs are complete")
    .optionsGroup("Overrides of the app config:")
    .option("--max-samples <n>", "LAION rows to fetch", intOption("--max-samples", { min: 1 }))
    .option(
      "--laion-prob <p>",
      "fraction of model training steps from LAION",
      floatOption("--laion-prob", { min: 0, max: 1 }),
    )
    .option(
      "--text-only-prob <t>",
      "share of the non-LAION model steps that are text-only (the rest: your captioned images)",
      floatOption("--text-only-prob", { min: 0, max: 1 }),
    )
    .option("--vq-max-steps <n>", "VQ training steps", intOption("--vq-max-steps", { min: 1 }))
    .option(
      "--max-steps <n>",
      "model training steps (default: the model config's)",
      intOption("--max-steps", { min: 1 }),
    )
    .option("--train-config <file>", "model config (default: train.config of the app config)")
    .option("--preset <name>", "model preset, or auto (largest that fits the device)");
}

/** The options given after the subcommand's name, for the "rerun with" line. */
function argsAfter(command: string, argv: readonly string[]): string[] {
  const i = argv.indexOf(command);
  return i >= 0 ? argv.slice(i + 1) : [];
}

/** `kaggle` (every stage) or one stage alone: flags → runKaggle. */
function kaggleSubcommand(
  name: string,
  only: StageName | undefined,
  description: string,
): CliSubcommand<KaggleFlags> {
  return {
    name,
    description,
    define: defineKaggleOptions,
    async run(flags, ctx) {
      const token = flags.hfToken ?? ctx.env["HF_TOKEN"];
      await runKaggle({
        config: flags.config,
        ...(flags.laion !== undefined ? { laion: flags.laion } : {}),
        ...(only ? { only } : {}),
        overrides: applyFlags(flags),
        ...(token ? { token } : {}),
        dryRun: flags.dryRun ?? false,
        force: flags.force ?? false,
        rerunCommand: rerunCommand(name, argsAfter(name, ctx.argv), ctx.env),
        preflight: trainPreflight,
        log: ctx.log,
      });
    },
  };
}

interface DemoFlags {
  outDir?: string;
  rows: number;
  dryRun?: boolean;
  force?: boolean;
}

/** `demo`: the whole pipeline offline on the embedded sample. */
const demoSubcommand: CliSubcommand<DemoFlags> = {
  name: "demo",
  description: "the same pipeline offline on the embedded sample, with tiny models (minutes on 2 cores)",
  define(cmd) {
    cmd
      .optionsGroup("Demo:")
      .option("--out-dir <dir>", "where the demo writes everything (default: <repo>/demo_output)")
      .option(
        "--rows <n>",
        "LAION rows in the demo parquet",
        intOption("--rows", { min: 10, max: 9000 }),
        300,
      )
      .option("--dry-run", "print the stage plan; run nothing")
      .option("--force", "run stages again even when their outputs are complete");
  },
  async run(flags: DemoFlags, ctx: CliContext) {
    const root = findRepoRoot();
    // the model config (configs/demo.yaml) names its data relative to the repository root
    process.chdir(root);
    await runDemo({
      root,
      ...(flags.outDir ? { outDir: path.resolve(flags.outDir) } : {}),
      rows: flags.rows,
      dryRun: flags.dryRun ?? false,
      force: flags.force ?? false,
      rerunCommand: rerunCommand("demo", argsAfter("demo", ctx.argv), ctx.env),
      log: ctx.log,
    });
  },
};

/** `laion-trainer kaggle | fetch | download | train-vq | encode | train | demo`. */
export const trainerCommand: CliCommand<never> = {
  name: "laion-trainer",
  version: () => packageVersion(import.meta.url),
  description: "Fetch LAION → download images → train the VQ tokenizer → train the multimodal model.",
  subcommands: [
    kaggleSubcommand(
      "kaggle",
      undefined,
      "the whole pipeline with the Kaggle defaults (configs/kaggle.yaml); finished stages are skipped",
    ),
    ...STAGE_NAMES.map((name) =>
      kaggleSubcommand(name, name, `only the ${name} stage, with the app defaults`),
    ),
    demoSubcommand,
  ],
  secrets: (o, env) => [(o as { hfToken?: string }).hfToken, env["HF_TOKEN"]],
};

/** Run `laion-trainer` with these arguments (tests pass their own streams and env). */
export function trainerCli(argv: readonly string[], io: CliIo = {}): Promise<void> {
  return runCommand(trainerCommand, argv, io);
}
