#!/usr/bin/env node
// generate-multimodal: text continuation, caption → image PNG, image → caption from a checkpoint.
import fs from "node:fs";
import { CliError, floatOption, intOption, runCli } from "@laion/cli-kit";
import { Command, Option } from "commander";
import { generate } from "./generate.js";
import { loadForGeneration } from "./load-model.js";
import { pickBackend } from "./vq-bridge.js";

const program = new Command("generate-multimodal")
  .description("Sample from a train-multimodal checkpoint")
  .requiredOption(
    "--checkpoint <dir>",
    "output dir of train-multimodal (its last checkpoint) or a step-* folder",
  )
  .option("--prompt <text>", "continue this text")
  .option("--caption <text>", "generate an image for this caption (needs --out)")
  .option("--image <file>", "caption this image")
  .option("--out <file>", "PNG to write for --caption")
  .option("--vq-checkpoint <file>", "VQ checkpoint (default: the one the model was trained with)")
  .option(
    "--temperature <t>",
    "sampling temperature (0 = greedy)",
    floatOption("--temperature", { min: 0 }),
    0.8,
  )
  .option("--greedy", "always take the most likely token (same as --temperature 0)")
  .option(
    "--top-k <k>",
    "sample among the k most likely tokens (0 = all)",
    intOption("--top-k", { min: 0 }),
    40,
  )
  .option(
    "--min-tokens <n>",
    "hold <eos> back until n tokens are out (default: 1 for --image, 0 for --prompt)",
    intOption("--min-tokens", { min: 0 }),
  )
  .option("--max-tokens <n>", "longest text to generate", intOption("--max-tokens", { min: 1 }), 64)
  .option("--seed <n>", "sampling seed", intOption("--seed", { min: 0 }), 0)
  .addOption(
    new Option("--backend <name>", "tfjs backend")
      .choices(["auto", "tfjs-node-gpu", "tfjs-node", "wasm", "cpu"])
      .default("auto"),
  );

runCli(async () => {
  program.parse();
  const o = program.opts();
  const modes = [o.prompt, o.caption, o.image].filter((x) => x !== undefined).length;
  if (modes !== 1) throw new CliError("give exactly one of --prompt, --caption (with --out) or --image");
  if (o.caption !== undefined && !o.out) throw new CliError("--caption needs --out img.png");
  const { tf } = await pickBackend(o.backend, () => {});
  const loaded = await loadForGeneration({
    tf,
    checkpoint: o.checkpoint,
    vqCheckpoint: o.vqCheckpoint ?? null,
  });
  const g = {
    ...loaded,
    greedy: Boolean(o.greedy),
    temperature: o.temperature,
    topK: o.topK,
    seed: o.seed,
    maxNewTokens: o.maxTokens,
    ...(o.minTokens !== undefined ? { minNewTokens: o.minTokens } : {}),
  };
  if (o.prompt !== undefined) {
    const r = await generate(g, { kind: "text", prompt: o.prompt });
    if (r.kind === "text") process.stdout.write(`${r.text}\n`);
  } else if (o.caption !== undefined) {
    const r = await generate(g, { kind: "caption2image", caption: o.caption });
    if (r.kind !== "caption2image" || !r.png)
      throw new CliError("the model did not produce a full image code grid");
    fs.writeFileSync(o.out, r.png);
    process.stdout.write(`${o.out}\n`);
  } else {
    if (!fs.existsSync(o.image)) throw new CliError(`--image ${o.image} does not exist`);
    const r = await generate(g, { kind: "image2caption", image: new Uint8Array(fs.readFileSync(o.image)) });
    if (r.kind === "image2caption") process.stdout.write(`${r.text}\n`);
  }
});
