import fs from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

const positiveInt = z.number().int().positive();
/**
 * Data-parallel wasm worker threads (--threads of train-visual-vq / train-multimodal); null: the
 * package's default — every core on the wasm backend, 1 on GPU and native backends.
 */
const threads = z.number().int().min(1).max(256).nullable().default(null);
/**
 * Data-parallel processes, one per GPU (--devices of train-visual-vq / train-multimodal); null: the
 * package's default — the GPUs nvidia-smi lists on a GPU backend (both T4s on Kaggle), else 1.
 */
const devices = z.number().int().min(1).max(64).nullable().default(null);
const prob = z.number().min(0).max(1);

const laionSchema = z.strictObject({
  /** Off unless USE_LAION=1 or --laion. */
  enabled: z.boolean().default(false),
  hf_dataset: z.string().min(1).default("laion/relaion2B-en-research-safe"),
  hub_url: z.string().url().default("https://huggingface.co"),
  /** Local paths or URLs of parquet files; when set, used instead of the Hugging Face dataset. */
  input: z.array(z.string().min(1)).nullable().default(null),
  max_samples: positiveInt.nullable().default(20000),
  seed: z.number().int().min(0).default(0),
  min_caption_len: z.number().int().min(0).nullable().default(null),
  dir: z.string().min(1).default("data/laion"),
});

const downloadSchema = z.strictObject({
  output: z.string().min(1).default("data/laion/webdataset"),
  image_size: positiveInt.default(256),
  shard_size: positiveInt.default(1000),
  resize_mode: z
    .enum(["no", "border", "keep_ratio", "keep_ratio_largest", "center_crop"])
    .default("center_crop"),
  concurrency: positiveInt.default(64),
  timeout_s: z.number().positive().default(10),
  retries: z.number().int().min(0).default(2),
  /** Non-public destinations allowed (ip, cidr or host), e.g. ["127.0.0.1"] for the demo's local server. */
  allow_addresses: z.array(z.string().min(1)).default([]),
  /** Allows every destination, cloud metadata included; prefer allow_addresses. Off for real LAION. */
  allow_private_addresses: z.boolean().default(false),
});

const localSchema = z.strictObject({
  captions: z.string().min(1).default("data/explicit_media/captions.json"),
  image_root: z.string().min(1).default("data/explicit_media"),
  /** Text corpus files/folders; null keeps the model config's data.corpus. */
  corpus: z.array(z.string().min(1)).nullable().default(null),
});

const vqSchema = z.strictObject({
  out: z.string().min(1).default("model_output/visual_vq.pt"),
  /** A @laion/vq preset (demo, 64-f4, 256-f16-1k, 256-f16-8k). */
  preset: z.string().min(1).default("256-f16-1k"),
  max_steps: positiveInt.default(5000),
  /** With LAION on: the share of VQ training images from LAION. Unset: @laion/vq's default (DEFAULT_LAION_PROB). */
  laion_prob: prob.optional(),
  batch_size: positiveInt.default(16),
  /** Evaluate (PSNR, codebook usage, reconstruction grid) and checkpoint every this many steps. */
  eval_every: positiveInt.default(500),
  threads,
  devices,
});

const encodeSchema = z.strictObject({
  /** With LAION on: encode the downloaded shards to VQ codes once, and train the model on the codes. */
  enabled: z.boolean().default(true),
  output: z.string().min(1).default("data/laion/vq-codes"),
  /** Images per encoder pass. */
  batch_size: positiveInt.default(32),
});

const trainSchema = z.strictObject({
  config: z.string().min(1).default("configs/train_2b_multimodal_hard.yaml"),
  output_dir: z.string().min(1).default("output_2b_multimodal_hard"),
  /** With LAION on: training.laion_prob. Unset: the model config's value, else the trainer's default. */
  laion_prob: prob.optional(),
  /** Share of the non-LAION steps that are text-only; null keeps the model config's training.text_only_prob. */
  text_only_prob: prob.nullable().default(null),
  max_steps: positiveInt.nullable().default(null),
  /** `auto`: the config's preset if it fits the detected device, else the largest that does; or a preset name. */
  preset: z.string().min(1).default("auto"),
  /** null: the model config's training.threads, else the trainer's default. */
  threads,
  /** null: the model config's training.devices, else the trainer's default. */
  devices,
  /**
   * Samples files shown in report.html beside the run's own (training.report_samples; the demo shows the
   * grounded benchmark's, docs/grounded-samples.json); null keeps the model config's. Report only: not
   * part of the run's identity.
   */
  report_samples: z.array(z.string().min(1)).nullable().default(null),
});

export const appConfigSchema = z.strictObject({
  laion: laionSchema.default(laionSchema.parse({})),
  download: downloadSchema.default(downloadSchema.parse({})),
  local: localSchema.default(localSchema.parse({})),
  vq: vqSchema.default(vqSchema.parse({})),
  encode: encodeSchema.default(encodeSchema.parse({})),
  train: trainSchema.default(trainSchema.parse({})),
});

const SECTIONS: Record<string, string[]> = {
  "": Object.keys(appConfigSchema.shape),
  laion: Object.keys(laionSchema.shape),
  download: Object.keys(downloadSchema.shape),
  local: Object.keys(localSchema.shape),
  vq: Object.keys(vqSchema.shape),
  encode: Object.keys(encodeSchema.shape),
  train: Object.keys(trainSchema.shape),
};

export type AppConfig = z.output<typeof appConfigSchema>;

/** Validates an app config object; errors name the key path (`download.image_size: …`). */
export function parseAppConfig(raw: unknown, origin: string): AppConfig {
  const r = appConfigSchema.safeParse(raw ?? {});
  if (r.success) return r.data;
  const problems = r.error.issues.map((issue) => {
    const where = issue.path.join(".") || "(top level)";
    if (issue.code === "unrecognized_keys") {
      const section = issue.path.join(".");
      const allowed = SECTIONS[section] ?? [];
      return `unknown key ${issue.keys.map((k) => (section ? `${section}.${k}` : k)).join(", ")} (allowed: ${allowed.join(", ")})`;
    }
    return `${where}: ${issue.message}`;
  });
  throw new Error(`${origin}: ${problems.join("; ")}`);
}

export function loadAppConfig(file: string): AppConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read app config ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new Error(`${file}: invalid YAML: ${(err as Error).message}`);
  }
  return parseAppConfig(raw, file);
}

/** USE_LAION=1/true/yes turns LAION on, like the Kaggle script's environment switch. */
export function laionFromEnv(env: NodeJS.ProcessEnv): boolean | undefined {
  const v = env["USE_LAION"]?.trim().toLowerCase();
  if (v === undefined || v === "") return undefined;
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  throw new Error(`USE_LAION must be 1/0 (or true/false), got "${env["USE_LAION"]}"`);
}
