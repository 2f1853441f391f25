#!/usr/bin/env node
// train-multimodal: thin shell over trainMultimodal (flags override the YAML config).
import { CliError, checkFlagPath, createProgress, floatOption, intOption, runCli } from "@laion/cli-kit";
import { Command, Option } from "commander";
import { applyOverrides, loadConfig, parseConfig } from "./config.js";
import { PRESET_NAMES, type PresetName } from "./presets.js";
import { missingInputs } from "./run-manifest.js";
import { trainMultimodal } from "./train.js";

const program = new Command("train-multimodal")
  .description(
    "Train the multimodal decoder (Sinhala text + captioned images + optional LAION) in TensorFlow.js",
  )
  .option("--config <file>", "YAML config (see docs/trainer.md); defaults apply when omitted")
  .option("--output-dir <dir>", "where checkpoints, metrics.jsonl and report.html go (output_dir)")
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
  .option("--corpus <paths...>", "text corpus files/folders (data.corpus)")
  .option("--max-steps <n>", "optimizer steps (training.max_steps)", intOption("--max-steps", { min: 1 }))
  .option("--batch-size <n>", "micro-batch size (training.batch_size)", intOption("--batch-size", { min: 1 }))
  .addOption(new Option("--preset <name>", "model preset (model.preset)").choices(PRESET_NAMES))
  .addOption(
    new Option("--backend <name>", "tfjs backend (default: first that loads)").choices([
      "auto",
      "tfjs-node-gpu",
      "webgpu",
      "tfjs-node",
      "wasm",
      "cpu",
    ]),
  )
  .option(
    "--device-memory-gb <gb>",
    "device memory for the preflight check (GPU default 16 = Kaggle T4)",
    floatOption("--device-memory-gb", { min: 0.01 }),
  )
  .option(
    "--threads <n>",
    "wasm: threads sharing each micro-batch, one core each (training.threads; default all cores)",
    intOption("--threads", { min: 1, max: 256 }),
  )
  .option("--resume", "continue from the last checkpoint in the output dir (same data order)")
  .option("--dry-run", "print the plan (parameters, memory, backend, mixture) and exit")
  .option(
    "--overwrite",
    "when the output dir holds a run with other settings or data: keep it as <dir>.prev-<n> and start over",
  )
  .option("--json", "progress as JSON lines even on a terminal");

runCli(async () => {
  program.parse();
  const o = program.opts();
  const base = o.config ? loadConfig(o.config) : parseConfig({});
  const config = applyOverrides(base, {
    ...(o.outputDir !== undefined ? { outputDir: o.outputDir } : {}),
    ...(o.vqCheckpoint !== undefined ? { vqCheckpoint: o.vqCheckpoint } : {}),
    ...(o.laionPath !== undefined
      ? { laionPath: ["null", "none", ""].includes(o.laionPath) ? null : o.laionPath }
      : {}),
    ...(o.laionProb !== undefined ? { laionProb: o.laionProb } : {}),
    ...(o.textOnlyProb !== undefined ? { textOnlyProb: o.textOnlyProb } : {}),
    ...(o.maxSteps !== undefined ? { maxSteps: o.maxSteps } : {}),
    ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
    ...(o.preset !== undefined ? { preset: o.preset as PresetName } : {}),
    ...(o.backend !== undefined ? { backend: o.backend } : {}),
    ...(o.deviceMemoryGb !== undefined ? { deviceMemoryGb: o.deviceMemoryGb } : {}),
    ...(o.captions !== undefined ? { captions: o.captions } : {}),
    ...(o.imageRoot !== undefined ? { imageRoot: o.imageRoot } : {}),
    ...(o.corpus !== undefined ? { corpus: o.corpus } : {}),
    ...(o.threads !== undefined ? { threads: o.threads } : {}),
  });
  // paths named by flags fail here, by flag, not as a bare EISDIR/EEXIST from deep inside the run
  checkFlagPath(config.output_dir, { flag: "--output-dir (output_dir)", kind: "folder" });
  if (config.training.vq_checkpoint)
    checkFlagPath(config.training.vq_checkpoint, {
      flag: "--vq-checkpoint (training.vq_checkpoint)",
      kind: "file",
      mustExist: !o.dryRun,
    });
  // --dry-run answers "would this run?": every input must be there, not only the memory plan
  const missing = o.dryRun ? missingInputs(config) : [];
  if (missing.length > 0) throw new CliError(`--dry-run: inputs missing:\n  ${missing.join("\n  ")}`);
  let progress: ReturnType<typeof createProgress> | undefined;
  const result = await trainMultimodal({
    config,
    resume: Boolean(o.resume),
    overwrite: Boolean(o.overwrite),
    dryRun: Boolean(o.dryRun),
    // The plan goes to stdout on a dry run (it is the output); everything else to stderr.
    log: (m) =>
      o.dryRun && m.startsWith("backend ")
        ? process.stdout.write(`${m}\n`)
        : progress
          ? progress.log(m)
          : process.stderr.write(`${m}\n`),
    onStep: (r, max) => {
      progress ??= createProgress({ label: "steps", total: max, ...(o.json ? { json: true } : {}) });
      if (progress.count === 0 && r.step > 1) progress.tick(r.step - 1);
      progress.tick(1, {
        step: r.step,
        loss: r.loss,
        "tok/s": r.tokens_per_s ?? 0,
        lr: Number((r.lr ?? 0).toPrecision(3)),
      });
    },
  }).catch((err: Error) => {
    throw new CliError(err.message);
  });
  progress?.done({ steps: result.records.filter((r) => r.type === "train").length });
  // A dry run that does not fit exits 2, so scripts can test a config before a long job.
  if (o.dryRun) process.exitCode = result.plan.fits ? 0 : 2;
  else
    process.stdout.write(
      `report: ${result.outputDir}/report.html\nmetrics: ${result.outputDir}/metrics.jsonl\n`,
    );
});
