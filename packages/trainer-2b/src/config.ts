// The YAML config: a typed defaults object (zod schema with defaults); files hold only overrides.
// Unknown keys and wrong types are errors that name the key path and the allowed values.
import fs from "node:fs";
import { describeConfigIssue, toArgs } from "@laion/cli-kit";
import { DEFAULT_LAION_PROB } from "@laion/mixer";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import type { ModelConfig } from "./model.js";
import { PRESET_NAMES, PRESETS, type PresetName } from "./presets.js";

const positiveInt = z.number().int().positive();
const prob = z.number().min(0).max(1);
const nullablePath = z.string().min(1).nullable();

const modelSchema = z.strictObject({
  preset: z.enum(PRESET_NAMES as [PresetName, ...PresetName[]]).default("demo"),
  d_model: positiveInt.optional(),
  n_layers: positiveInt.optional(),
  n_heads: positiveInt.optional(),
  d_ff: positiveInt.optional(),
  seq_len: positiveInt.optional(),
  /** Text vocabulary (256 bytes + BPE merges) the tokenizer is trained to. */
  text_vocab: z.number().int().min(256).optional(),
  /** Used only when no VQ checkpoint is given (dry runs); otherwise the checkpoint's codebook wins. */
  codebook_size: positiveInt.optional(),
  /** Total vocabulary; derived (specials + text + codes) when absent, must be ≥ that when given. */
  vocab: positiveInt.optional(),
  /**
   * How image codes enter the model (ModelConfig.image): "table" = one learned row per code id;
   * "codebook" = the VQ's codebook vector of the code through a learned projection, plus a
   * per-code residual row, tied to the output, so codes alike in the VQ start alike.
   */
  image_embedding: z.enum(["table", "codebook"]).default("table"),
  /** "sequence" = rotary positions only; "grid" = also a learned row + column embedding of each code's cell. */
  image_positions: z.enum(["sequence", "grid"]).default("sequence"),
  rope_theta: z.number().positive().default(10000),
  norm_eps: z.number().positive().default(1e-5),
  /** Existing tokenizer JSON; null → trained on corpus + captions into <output_dir>/tokenizer.json. */
  tokenizer: nullablePath.default(null),
});

const dataSchema = z.strictObject({
  /** Sinhala (or any) text corpus: .txt / .jsonl files or folders. */
  corpus: z.array(z.string().min(1)).default([]),
  /** captions.json of the user's own images. */
  captions: nullablePath.default(null),
  image_root: nullablePath.default(null),
  /** Fraction of documents (by key hash) held out for evaluation. */
  held_out_fraction: z.number().min(0).max(0.5).default(0.05),
  /** Cut documents at window edges (true) or start a new window for a document that fits in one (false). */
  split_documents: z.boolean().default(false),
  /** Cap on text tokens per document. */
  max_text_tokens: positiveInt.default(512),
});

const trainingSchema = z.strictObject({
  /** null = no LAION; a folder, a brace pattern (shard-{00000..00127}.tar), http(s):// or s3:// URL. */
  laion_path: nullablePath.default(null),
  /** The share of LAION steps when laion_path is set (with laion_path null LAION's share is 0). */
  laion_prob: prob.default(DEFAULT_LAION_PROB),
  text_only_prob: prob.default(0.5),
  /** Of the image samples, this fraction becomes text→image, the rest image→text. */
  image_text_ratio: prob.default(0.5),
  loss_weight_text: z.number().min(0).default(1),
  loss_weight_image: z.number().min(0).default(1),
  /**
   * Codes of text→image documents only (default: loss_weight_image). Optional, not defaulted, so runs
   * that do not set it keep their run manifest.
   */
  loss_weight_image_captioned: z.number().min(0).optional(),
  batch_size: positiveInt.default(8),
  grad_accum: positiveInt.default(1),
  lr: z.number().positive().default(3e-3),
  min_lr: z.number().min(0).default(3e-4),
  warmup: z.number().int().min(0).default(20),
  weight_decay: z.number().min(0).default(0.1),
  grad_clip: z.number().min(0).default(1),
  max_steps: positiveInt.default(300),
  eval_every: positiveInt.default(50),
  eval_batches: positiveInt.default(4),
  /** Longest sample (text tokens) generated for the report at each eval. */
  sample_max_tokens: positiveInt.default(48),
  /** Samples files (laion-report-samples-v1, e.g. the grounded benchmark's) shown in report.html too. */
  report_samples: z.array(z.string().min(1)).default([]),
  checkpoint_every: positiveInt.default(50),
  seed: z.number().int().min(0).default(0),
  shuffle_buffer: z.number().int().min(0).default(1000),
  vq_checkpoint: nullablePath.default(null),
  backend: z.enum(["auto", "tfjs-node-gpu", "webgpu", "tfjs-node", "wasm", "cpu"]).default("auto"),
  device_memory_gb: z.number().positive().nullable().default(null),
  /**
   * wasm: threads sharing each micro-batch's rows, one core (and one wasm instance) each; null = all
   * cores. Results are reproducible for a given value; other backends ignore it.
   */
  threads: z.number().int().min(1).max(256).nullable().default(null),
  /**
   * Processes sharing each step, one per device: this process is device 0, each other one a child
   * process pinned with CUDA_VISIBLE_DEVICES, running the same backend. null = the GPUs nvidia-smi
   * lists on a GPU backend (tfjs-node-gpu, webgpu), else 1. On wasm/cpu, n > 1 runs n processes in place
   * of threads (same shards, same results as threads n). Not together with threads > 1.
   */
  devices: z.number().int().min(1).max(64).nullable().default(null),
  /** Cache VQ codes of images by sample key (the user's images repeat every epoch). */
  code_cache_size: z.number().int().min(0).default(10000),
});

export const configSchema = z.strictObject({
  output_dir: z.string().min(1).default("output_multimodal"),
  model: modelSchema.default(modelSchema.parse({})),
  data: dataSchema.default(dataSchema.parse({})),
  training: trainingSchema.default(trainingSchema.parse({})),
});

export type TrainConfig = z.output<typeof configSchema>;

const SECTIONS: Record<string, string[]> = {
  "": Object.keys(configSchema.shape),
  model: Object.keys(modelSchema.shape),
  data: Object.keys(dataSchema.shape),
  training: Object.keys(trainingSchema.shape),
};

/** Validate a parsed object; `origin` (file name) prefixes the errors. */
export function parseConfig(raw: unknown, origin = "config"): TrainConfig {
  const r = configSchema.safeParse(raw ?? {});
  if (!r.success)
    throw new Error(`${origin}: ${r.error.issues.map((i) => describeConfigIssue(i, SECTIONS)).join("; ")}`);
  const { threads, devices } = r.data.training;
  if ((threads ?? 1) > 1 && (devices ?? 1) > 1)
    throw new Error(
      `${origin}: training.threads ${threads} and training.devices ${devices}: give one (threads share a step inside this process, devices across processes)`,
    );
  return r.data;
}

export function loadConfig(file: string): TrainConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read config ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new Error(`${file}: invalid YAML: ${(err as Error).message}`);
  }
  return parseConfig(raw, file);
}

/** Flag overrides (already typed) applied on top of a config, then re-validated. */
export interface ConfigOverrides {
  outputDir?: string;
  vqCheckpoint?: string;
  laionPath?: string | null;
  laionProb?: number;
  textOnlyProb?: number;
  maxSteps?: number;
  backend?: TrainConfig["training"]["backend"];
  deviceMemoryGb?: number;
  preset?: PresetName;
  batchSize?: number;
  threads?: number;
  devices?: number;
  /** data.captions / data.image_root / data.corpus: the app points the model at the same files as the VQ. */
  captions?: string;
  imageRoot?: string;
  corpus?: string[];
}

/** The `train-multimodal` argv that loads `configFile` and applies these overrides (the app's "run it alone"). */
export function trainArgs(configFile: string, o: ConfigOverrides): string[] {
  return [
    "--config",
    configFile,
    ...toArgs(o, { laionPath: (v) => ["--laion-path", v === null ? "null" : String(v)] }),
  ];
}

export function applyOverrides(cfg: TrainConfig, o: ConfigOverrides): TrainConfig {
  const next = structuredClone(cfg);
  if (o.outputDir !== undefined) next.output_dir = o.outputDir;
  if (o.vqCheckpoint !== undefined) next.training.vq_checkpoint = o.vqCheckpoint;
  if (o.laionPath !== undefined) next.training.laion_path = o.laionPath;
  if (o.laionProb !== undefined) next.training.laion_prob = o.laionProb;
  if (o.textOnlyProb !== undefined) next.training.text_only_prob = o.textOnlyProb;
  if (o.maxSteps !== undefined) next.training.max_steps = o.maxSteps;
  if (o.backend !== undefined) next.training.backend = o.backend;
  if (o.deviceMemoryGb !== undefined) next.training.device_memory_gb = o.deviceMemoryGb;
  if (o.preset !== undefined) next.model.preset = o.preset;
  if (o.batchSize !== undefined) next.training.batch_size = o.batchSize;
  if (o.captions !== undefined) next.data.captions = o.captions;
  if (o.imageRoot !== undefined) next.data.image_root = o.imageRoot;
  if (o.corpus !== undefined) next.data.corpus = o.corpus;
  if (o.threads !== undefined) next.training.threads = o.threads;
  if (o.devices !== undefined) next.training.devices = o.devices;
  return parseConfig(next, "flags");
}

/**
 * The transformer's config for a training config: its resolved shape over a vocabulary of `vocabSize`;
 * `images` (where the image codes sit, the VQ's code size and grid side) when the vocabulary has codes.
 */
export function modelConfigFor(
  cfg: TrainConfig,
  vocabSize: number,
  images?: { offset: number; size: number; codeDim: number; side: number },
): ModelConfig {
  const shape = resolveShape(cfg);
  const byCodebook = cfg.model.image_embedding === "codebook";
  const byGrid = cfg.model.image_positions === "grid";
  const image =
    images && images.size > 0 && (byCodebook || byGrid)
      ? {
          offset: images.offset,
          size: images.size,
          codebookDim: byCodebook ? images.codeDim : 0,
          side: byGrid ? images.side : 0,
        }
      : undefined;
  return {
    vocabSize,
    dModel: shape.dModel,
    nLayers: shape.nLayers,
    nHeads: shape.nHeads,
    dFF: shape.dFF,
    seqLen: shape.seqLen,
    ropeTheta: shape.ropeTheta,
    normEps: shape.normEps,
    // only when asked for: checkpoints of models without it keep an identical config
    ...(image ? { image } : {}),
  };
}

/** The model shape: the preset, with any explicit model.* keys on top. */
export function resolveShape(cfg: TrainConfig) {
  const p = PRESETS[cfg.model.preset];
  const m = cfg.model;
  return {
    dModel: m.d_model ?? p.dModel,
    nLayers: m.n_layers ?? p.nLayers,
    nHeads: m.n_heads ?? p.nHeads,
    dFF: m.d_ff ?? p.dFF,
    seqLen: m.seq_len ?? p.seqLen,
    textVocab: m.text_vocab ?? p.textVocab,
    codebookSize: m.codebook_size ?? p.codebookSize,
    ropeTheta: m.rope_theta,
    normEps: m.norm_eps,
  };
}
