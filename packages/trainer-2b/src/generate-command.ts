import fs from "node:fs";
import {
  type CliCommand,
  CliError,
  type CliIo,
  floatOption,
  intOption,
  packageVersion,
  runCommand,
} from "@laion/cli-kit";
import { BACKEND_ORDER } from "@laion/vq";
import { Option } from "commander";
import type { TrainConfig } from "./config.js";
import { type GenerateParams, type GenerateRequest, generate } from "./generate.js";
import { loadForGeneration } from "./load-model.js";
import { pickBackend } from "./vq-bridge.js";

/** The flags of `generate-multimodal` (commander's camelCased names). */
export interface GenerateCliOptions {
  checkpoint: string;
  prompt?: string;
  caption?: string;
  image?: string;
  out?: string;
  vqCheckpoint?: string;
  temperature: number;
  greedy?: boolean;
  topK: number;
  guidance?: number;
  minTokens?: number;
  maxTokens: number;
  seed: number;
  backend: TrainConfig["training"]["backend"];
}

/** The one request the flags ask for; errors name the flags. */
export function generateRequest(o: GenerateCliOptions): GenerateRequest {
  const modes = [o.prompt, o.caption, o.image].filter((x) => x !== undefined).length;
  if (modes !== 1) throw new CliError("give exactly one of --prompt, --caption (with --out) or --image");
  if (o.guidance !== undefined && o.caption === undefined)
    throw new CliError("--guidance applies to --caption only (caption → image)");
  if (o.prompt !== undefined) return { kind: "text", prompt: o.prompt };
  if (o.caption !== undefined) {
    if (!o.out) throw new CliError("--caption needs --out img.png");
    return { kind: "caption2image", caption: o.caption };
  }
  const image = o.image as string;
  if (!fs.existsSync(image)) throw new CliError(`--image ${image} does not exist`);
  return { kind: "image2caption", image: new Uint8Array(fs.readFileSync(image)) };
}

/** Sampling flags → generate's decoding params. */
export function samplingParams(
  o: GenerateCliOptions,
): Omit<GenerateParams, "model" | "tokenizer" | "vocab" | "vq"> {
  return {
    greedy: Boolean(o.greedy),
    temperature: o.temperature,
    topK: o.topK,
    seed: o.seed,
    maxNewTokens: o.maxTokens,
    ...(o.minTokens !== undefined ? { minNewTokens: o.minTokens } : {}),
    ...(o.guidance !== undefined ? { guidance: o.guidance } : {}),
  };
}

/** `generate-multimodal`: text continuation, caption → image PNG, image → caption from a checkpoint. */
export const generateCommand: CliCommand<GenerateCliOptions> = {
  name: "generate-multimodal",
  version: () => packageVersion(import.meta.url),
  description: "Sample from a train-multimodal checkpoint",
  define(program) {
    program
      .optionsGroup("Model:")
      .requiredOption(
        "--checkpoint <dir>",
        "output dir of train-multimodal (its last checkpoint) or a step-* folder",
      )
      .option("--vq-checkpoint <file>", "VQ checkpoint (default: the one the model was trained with)")
      .addOption(
        new Option("--backend <name>", "tfjs backend").choices(["auto", ...BACKEND_ORDER]).default("auto"),
      )
      .optionsGroup("Request (exactly one):")
      .option("--prompt <text>", "continue this text")
      .option("--caption <text>", "generate an image for this caption (needs --out)")
      .option("--image <file>", "caption this image")
      .option("--out <file>", "PNG to write for --caption")
      .optionsGroup("Sampling:")
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
        "--guidance <s>",
        "caption → image: conditioning strength, classifier-free (default 1 = the caption alone; > 1 follows it harder)",
        floatOption("--guidance", { min: 0 }),
      )
      .option(
        "--min-tokens <n>",
        "hold <eos> back until n tokens are out (default: 1 for --image, 0 for --prompt)",
        intOption("--min-tokens", { min: 0 }),
      )
      .option("--max-tokens <n>", "longest text to generate", intOption("--max-tokens", { min: 1 }), 64)
      .option("--seed <n>", "sampling seed", intOption("--seed", { min: 0 }), 0);
  },
  async run(o, ctx) {
    const request = generateRequest(o);
    const { tf } = await pickBackend(o.backend, ctx.debug);
    const loaded = await loadForGeneration({
      tf,
      checkpoint: o.checkpoint,
      vqCheckpoint: o.vqCheckpoint ?? null,
    });
    const r = await generate({ ...loaded, ...samplingParams(o) }, request);
    if (r.kind !== "caption2image") ctx.stdout.write(`${r.text}\n`);
    else if (!r.png) throw new CliError("the model did not produce a full image code grid");
    else {
      fs.writeFileSync(o.out as string, r.png);
      ctx.stdout.write(`${o.out}\n`);
    }
  },
};

/** Run `generate-multimodal` with these arguments (tests pass their own streams and env). */
export function generateCli(argv: readonly string[], io: CliIo = {}): Promise<void> {
  return runCommand(generateCommand, argv, io);
}
