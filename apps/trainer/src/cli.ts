#!/usr/bin/env node
// laion-trainer: the app's commands (kaggle, demo, and each stage alone). Thin: options → library calls.
import path from "node:path";
import { floatOption, intOption, runCli } from "@laion/cli-kit";
import { Command } from "commander";
import type { AppConfig } from "./app-config.js";
import { runDemo } from "./demo.js";
import { findRepoRoot } from "./find-root.js";
import { STAGE_NAMES, type StageName } from "./kaggle.js";
import { commandLine } from "./parquet-check.js";
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
function rerunCommand(target: string, argv: string[]): string {
  // never echo the token: drop `--hf-token X` and `--hf-token=X`
  const args = argv.filter((a, i) => !a.startsWith("--hf-token") && argv[i - 1] !== "--hf-token");
  if (target === "demo" && args.length === 0) return "npm run demo";
  if (process.env["NX_TASK_TARGET_TARGET"])
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

function kaggleOptions(cmd: Command): Command {
  return cmd
    .option("--config <file>", "app config with the defaults", "configs/kaggle.yaml")
    .option("--laion", "add LAION: fetch → download → VQ → model with LAION mixed in (also USE_LAION=1)")
    .option("--no-laion", "local data only, even when USE_LAION=1")
    .option(
      "--hf-token <token>",
      "Hugging Face token for the gated dataset (default: HF_TOKEN; never printed)",
    )
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
    .option("--preset <name>", "model preset, or auto (largest that fits the device)")
    .option("--dry-run", "print the stage plan and the trainer's device preflight; run nothing")
    .option("--force", "run stages again even when their outputs are complete");
}

async function kaggleAction(target: string, only: StageName | undefined, flags: KaggleFlags, argv: string[]) {
  const token = flags.hfToken ?? process.env["HF_TOKEN"];
  await runKaggle({
    config: flags.config,
    ...(flags.laion !== undefined ? { laion: flags.laion } : {}),
    ...(only ? { only } : {}),
    overrides: applyFlags(flags),
    ...(token ? { token } : {}),
    dryRun: flags.dryRun ?? false,
    force: flags.force ?? false,
    rerunCommand: rerunCommand(target, argv),
    preflight: trainPreflight,
  });
}

/** The options given after the command name, for the "rerun with" line. */
function argsAfter(command: string): string[] {
  const i = process.argv.indexOf(command);
  return i >= 0 ? process.argv.slice(i + 1) : [];
}

const program = new Command("laion-trainer")
  .description("Fetch LAION → download images → train the VQ tokenizer → train the multimodal model.")
  .showHelpAfterError();

kaggleOptions(
  program
    .command("kaggle")
    .description(
      "the whole pipeline with the Kaggle defaults (configs/kaggle.yaml); finished stages are skipped",
    ),
).action((flags: KaggleFlags) => kaggleAction("kaggle", undefined, flags, argsAfter("kaggle")));

for (const name of STAGE_NAMES) {
  kaggleOptions(program.command(name).description(`only the ${name} stage, with the app defaults`)).action(
    (flags: KaggleFlags) => kaggleAction(name, name, flags, argsAfter(name)),
  );
}

program
  .command("demo")
  .description("the same pipeline offline on the embedded sample, with tiny models (minutes on 2 cores)")
  .option("--out-dir <dir>", "where the demo writes everything (default: <repo>/demo_output)")
  .option("--rows <n>", "LAION rows in the demo parquet", intOption("--rows", { min: 10, max: 9000 }), 300)
  .option("--dry-run", "print the stage plan; run nothing")
  .option("--force", "run stages again even when their outputs are complete")
  .action(async (flags: { outDir?: string; rows: number; dryRun?: boolean; force?: boolean }) => {
    const root = findRepoRoot();
    // the model config (configs/demo.yaml) names its data relative to the repository root
    process.chdir(root);
    await runDemo({
      root,
      ...(flags.outDir ? { outDir: path.resolve(flags.outDir) } : {}),
      rows: flags.rows,
      dryRun: flags.dryRun ?? false,
      force: flags.force ?? false,
      rerunCommand: rerunCommand("demo", argsAfter("demo")),
    });
  });

await runCli(() => program.parseAsync(process.argv).then(() => undefined), {
  secrets: () => [process.env["HF_TOKEN"], ...process.argv.filter((a) => a.startsWith("hf_"))],
});
