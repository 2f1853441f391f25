import { z } from "zod";

/** Architecture + quantiser settings; saved in every checkpoint. */
export interface VQConfig {
  /** Square input/output size in pixels. */
  imageSize: number;
  /** Spatial downsampling factor: the code grid is imageSize/downsample on a side. */
  downsample: 4 | 8 | 16;
  /** Number of codebook entries. */
  codebookSize: number;
  /** Dimension of each (L2-normalised) code vector. */
  codeDim: number;
  /** Conv channels per resolution, from full resolution down to the code grid: length log2(downsample) + 1. */
  channels: number[];
  /** Residual blocks at the code-grid resolution, in the encoder and in the decoder. */
  resBlocks: number;
  /** Commitment loss weight β. */
  commitment: number;
  /** EMA decay of the codebook statistics. */
  emaDecay: number;
  /** Dead-code restart: a code no batch has used for this many steps is moved onto a recent encoder output (0 = never). */
  restartAfter: number;
}

export const configSchema = z.object({
  imageSize: z.number().int().min(16).max(1024),
  downsample: z.union([z.literal(4), z.literal(8), z.literal(16)]),
  codebookSize: z.number().int().min(2).max(65536),
  codeDim: z.number().int().min(2).max(1024),
  channels: z.array(z.number().int().min(1).max(2048)),
  resBlocks: z.number().int().min(0).max(16),
  commitment: z.number().min(0).max(10),
  emaDecay: z.number().min(0).max(0.99999),
  restartAfter: z.number().int().min(0).max(100000),
});

/**
 * Presets. `demo` trains in minutes on 2 CPU cores (64 px, 8×8 = 64 tokens) but its 64 codes cap
 * reconstructions near 21.5 dB; `64-f4` (16×16 = 256 tokens) reaches 25 dB in under 30 minutes on the
 * same cores (docs/benchmarks.md). The 256 px ones are for a GPU backend (tfjs-node-gpu): 16×16 = 256
 * tokens per image.
 */
export const VQ_PRESETS = {
  demo: {
    imageSize: 64,
    downsample: 8,
    codebookSize: 512,
    codeDim: 32,
    channels: [16, 32, 64, 128],
    resBlocks: 1,
    commitment: 0.25,
    emaDecay: 0.99,
    restartAfter: 10,
  },
  "64-f4": {
    imageSize: 64,
    downsample: 4,
    codebookSize: 1024,
    codeDim: 32,
    channels: [16, 32, 64],
    resBlocks: 1,
    commitment: 0.25,
    emaDecay: 0.99,
    restartAfter: 10,
  },
  /**
   * Small flat-colour images (tools/grounded's shapes): 8×8 = 64 codes like `demo` at a quarter of its
   * cost (60 vs 231 MFLOP per image). Measured with tools/bench/grounded.bench.mjs: 23.5 dB after
   * 500 steps of 8, and the pixel classifier reads 73 % of colours and 56 % of shapes back from its
   * reconstructions of held-out pairs; f=16 (16 codes) at the same cost reached 20.5 dB and 25 % / 27 %
   * (chance): 64 codes per image are needed.
   */
  "64-f8-small": {
    imageSize: 64,
    downsample: 8,
    codebookSize: 256,
    codeDim: 16,
    channels: [8, 16, 32, 64],
    resBlocks: 1,
    commitment: 0.25,
    emaDecay: 0.99,
    restartAfter: 10,
  },
  /**
   * `64-f8-small` at f=4: 16×16 = 256 codes. On the grounded shapes the 8×8 grid keeps a shape's
   * outline only inside edge codes that also name its colour, so a shape seen in a new colour is not
   * recognised (a linear probe on the codes reads 69 % of shapes on seen colour × shape pairs, 28 % on
   * held-out ones; on the colour-blind layout of non-background cells, chance at 8×8 and 53–61 % at
   * 16×16, held-out pairs as well as seen: tools/bench/grounded.bench.mjs, docs/benchmarks.md).
   * 512 codes, not 256: with 256 the codes went to grey background shades and edges, green got none
   * (every green shape came back grey, 600 steps of 8); 512 reconstructs every colour (26.8 dB).
   */
  "64-f4-small": {
    imageSize: 64,
    downsample: 4,
    codebookSize: 512,
    codeDim: 16,
    channels: [8, 16, 32],
    resBlocks: 1,
    commitment: 0.25,
    emaDecay: 0.99,
    restartAfter: 10,
  },
  "256-f16-1k": {
    imageSize: 256,
    downsample: 16,
    codebookSize: 1024,
    codeDim: 32,
    channels: [64, 128, 128, 256, 256],
    resBlocks: 2,
    commitment: 0.25,
    emaDecay: 0.99,
    restartAfter: 20,
  },
  "256-f16-8k": {
    imageSize: 256,
    downsample: 16,
    codebookSize: 8192,
    codeDim: 32,
    channels: [64, 128, 256, 256, 512],
    resBlocks: 2,
    commitment: 0.25,
    emaDecay: 0.99,
    restartAfter: 20,
  },
} as const satisfies Record<string, VQConfig>;

export type VQPresetName = keyof typeof VQ_PRESETS;

/**
 * The Adam learning rate each preset trains with when `lr` is not given. 2e-3 was measured best for the
 * small 64 px `64-f4` model on 2 cores (docs/benchmarks.md: 25 dB in 16 min vs 24.8 dB in 22 min at
 * 1e-3); the others keep 5e-4, the rate they were tuned at.
 */
export const PRESET_LR: Record<VQPresetName, number> = {
  demo: 5e-4,
  "64-f4": 2e-3,
  "64-f8-small": 3e-3,
  "64-f4-small": 3e-3,
  "256-f16-1k": 5e-4,
  "256-f16-8k": 5e-4,
};

/** Validate a full config; the error names the offending field. */
export function validateConfig(config: VQConfig): VQConfig {
  const parsed = configSchema.safeParse(config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid VQ config: ${issue?.path.join(".")}: ${issue?.message}`);
  }
  const levels = Math.log2(config.downsample);
  if (config.channels.length !== levels + 1) {
    throw new Error(
      `invalid VQ config: channels needs ${levels + 1} entries for downsample ${config.downsample} (one per resolution), got ${config.channels.length}`,
    );
  }
  if (config.imageSize % config.downsample !== 0) {
    throw new Error(
      `invalid VQ config: imageSize ${config.imageSize} is not a multiple of downsample ${config.downsample}`,
    );
  }
  return config;
}

/** A preset with overrides applied; `channels` is re-derived when only `downsample` changes. */
export function resolveConfig(overrides: Partial<VQConfig> = {}, preset: VQPresetName = "demo"): VQConfig {
  if (!Object.hasOwn(VQ_PRESETS, preset))
    throw new Error(`unknown VQ preset "${preset}"; use one of: ${Object.keys(VQ_PRESETS).join(", ")}`);
  const base: VQConfig = { ...VQ_PRESETS[preset], channels: [...VQ_PRESETS[preset].channels] };
  const merged: VQConfig = { ...base, ...overrides } as VQConfig;
  if (
    overrides.downsample !== undefined &&
    overrides.channels === undefined &&
    merged.downsample !== base.downsample
  ) {
    const levels = Math.log2(merged.downsample) + 1;
    const ch = base.channels;
    merged.channels = Array.from({ length: levels }, (_, i) => ch[Math.min(i, ch.length - 1)] as number);
  }
  return validateConfig(merged);
}
