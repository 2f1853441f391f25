// Memory arithmetic done before any tensor is allocated, so a run that cannot fit is refused with
// the sizes that would, instead of dying in the allocator an hour later.

import os from "node:os";
import { tensorOverflow } from "@laion/vq";
import { countParameters, type ModelConfig } from "./model.js";
import { PRESET_NAMES, PRESETS, type PresetName } from "./presets.js";
import { SPECIALS } from "./vocab.js";

export interface MemoryPlan {
  params: number;
  /** fp32 weights: 4 B/param. */
  weightsBytes: number;
  /** fp32 gradients: 4 B/param. */
  gradsBytes: number;
  /** AdamW first + second moments: 8 B/param. */
  optimizerBytes: number;
  /** Gradient-accumulation buffer (4 B/param) when grad_accum > 1. */
  accumBytes: number;
  /** Activations kept for backward at one micro-batch of batch_size × seq_len. */
  activationBytes: number;
  totalBytes: number;
}

/**
 * Activations per token per layer (floats): residual, norms, q/k/v and their rotated copies,
 * attention output and projections ≈ 14·C; SwiGLU ≈ 5·F; scores + softmax 2·H·T (naive
 * attention materialises [B, H, T, T]). Head: logits, log-softmax, one-hot, product 4·V. Plus the
 * [B, 1, T, T] document mask.
 */
export function memoryPlan(cfg: ModelConfig, batchSize: number, gradAccum: number): MemoryPlan {
  const params = countParameters(cfg);
  const { dModel: C, dFF: F, nHeads: H, seqLen: T, nLayers: L, vocabSize: V } = cfg;
  const perToken = L * (14 * C + 5 * F + 2 * H * T) + 4 * V + T;
  const activationBytes = 4 * batchSize * T * perToken;
  const weightsBytes = 4 * params;
  const gradsBytes = 4 * params;
  const optimizerBytes = 8 * params;
  const accumBytes = gradAccum > 1 ? 4 * params : 0;
  return {
    params,
    weightsBytes,
    gradsBytes,
    optimizerBytes,
    accumBytes,
    activationBytes,
    totalBytes: weightsBytes + gradsBytes + optimizerBytes + accumBytes + activationBytes,
  };
}

export interface DeviceMemory {
  bytes: number;
  /** Where the figure comes from, for the plan printout. */
  source: string;
  /** Set when a configured figure was not believed (more than the backend can address). */
  warning?: string;
}

/** GPU memory assumed where tfjs does not report it (Kaggle's T4); --device-memory-gb says otherwise. */
export const ASSUMED_GPU_GB = 16;

/** What the backend in use can address: a hard limit where there is one (wasm's heap, the machine's RAM). */
function backendMemory(backend: string, device?: { software?: boolean }): DeviceMemory & { hard: boolean } {
  if (backend === "wasm") return { bytes: 4 * 2 ** 30, source: "wasm heap (4 GiB, wasm32)", hard: true };
  // a software WebGPU adapter (llvmpipe) allocates in RAM: it falls through to the RAM figure
  if (backend === "tfjs-node-gpu" || (backend === "webgpu" && !device?.software))
    // tfjs does not report a GPU's memory: assume the Kaggle T4 and let device_memory_gb say otherwise
    return {
      bytes: ASSUMED_GPU_GB * 1e9,
      source: `GPU, size not reported: ${ASSUMED_GPU_GB} GB assumed (Kaggle T4)`,
      hard: false,
    };
  return { bytes: Math.floor(os.totalmem() * 0.8), source: "80% of system RAM", hard: true };
}

/**
 * Memory available to tensors, from the backend in use: wasm's 4 GiB heap, 80 % of RAM on cpu backends,
 * 16 GB assumed on GPUs (whose size tfjs does not report). `device_memory_gb` / --device-memory-gb is an
 * override: it can lower the figure, or set a GPU's, but not raise it past what the backend can address
 * (then the backend's figure is used and `warning` says so).
 */
export function deviceMemory(
  backend: string,
  flagGb?: number | null,
  device?: { software?: boolean },
): DeviceMemory {
  const own = backendMemory(backend, device);
  if (!flagGb) return { bytes: own.bytes, source: own.source };
  const bytes = flagGb * 1e9;
  if (own.hard && bytes > own.bytes)
    return {
      bytes: own.bytes,
      source: own.source,
      warning:
        `device_memory_gb ${flagGb} is more than the ${backend} backend can address ` +
        `(${(own.bytes / 1e9).toFixed(1)} GB, ${own.source}): planning with ${(own.bytes / 1e9).toFixed(1)} GB`,
    };
  return { bytes, source: `device_memory_gb ${flagGb} (override of: ${own.source})` };
}

/** The largest single tensor of a training step (fp32): one buffer must hold it on a GPU backend. */
export function largestTensor(cfg: ModelConfig, batchSize: number): { name: string; bytes: number } {
  const { dModel: C, dFF: F, nHeads: H, seqLen: T, vocabSize: V } = cfg;
  const B = batchSize;
  const candidates = [
    { name: `logits [B·T, V] = [${B * T}, ${V}]`, n: B * T * V },
    { name: `attention scores [B, H, T, T] = [${B}, ${H}, ${T}, ${T}]`, n: B * H * T * T },
    { name: `SwiGLU hidden [B, T, F] = [${B}, ${T}, ${F}]`, n: B * T * F },
    { name: `token embedding [V, C] = [${V}, ${C}]`, n: V * C },
  ];
  const top = candidates.reduce((a, b) => (b.n > a.n ? b : a));
  return { name: top.name, bytes: 4 * top.n };
}

/** Throws when the largest tensor exceeds what one buffer of the device may hold (webgpu's adapter limits). */
export function assertTensorFits(params: {
  cfg: ModelConfig;
  batchSize: number;
  maxTensorBytes: number | undefined;
  device: string;
}): void {
  const { cfg, batchSize, maxTensorBytes } = params;
  const over = tensorOverflow(batchSize, maxTensorBytes, (n) => largestTensor(cfg, n));
  if (!over) return;
  const { fits } = over;
  throw new Error(
    `the largest tensor, ${over.exceeds} on ${params.device}: ${over.limit}. ` +
      (fits > 0
        ? `training.batch_size ≤ ${fits} fits (raise training.grad_accum to keep the effective batch).`
        : "No batch size fits: choose a smaller model.preset."),
  );
}

export function presetModelConfig(name: PresetName, vocabSize?: number): ModelConfig {
  const p = PRESETS[name];
  return {
    vocabSize: vocabSize ?? SPECIALS.length + p.textVocab + p.codebookSize,
    dModel: p.dModel,
    nLayers: p.nLayers,
    nHeads: p.nHeads,
    dFF: p.dFF,
    seqLen: p.seqLen,
    ropeTheta: 10000,
    normEps: 1e-5,
  };
}

/** For each preset, the largest power-of-two batch size (≤ 64) that fits, or none. */
export function whatFits(
  deviceBytes: number,
  gradAccum: number,
): { preset: PresetName; batchSize: number }[] {
  const out: { preset: PresetName; batchSize: number }[] = [];
  for (const name of PRESET_NAMES) {
    const cfg = presetModelConfig(name);
    let best = 0;
    for (let b = 1; b <= 64; b *= 2) if (memoryPlan(cfg, b, gradAccum).totalBytes <= deviceBytes) best = b;
    if (best) out.push({ preset: name, batchSize: best });
  }
  return out;
}

export const gb = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`;

export function formatPlan(plan: MemoryPlan): string {
  return [
    `parameters      ${plan.params.toLocaleString("en-US")} (${(plan.params / 1e9).toFixed(3)} B)`,
    `weights fp32    ${gb(plan.weightsBytes)}`,
    `gradients fp32  ${gb(plan.gradsBytes)}`,
    `AdamW m + v     ${gb(plan.optimizerBytes)}`,
    `grad accum buf  ${gb(plan.accumBytes)}`,
    `activations     ${gb(plan.activationBytes)}`,
    `total           ${gb(plan.totalBytes)}`,
  ].join("\n");
}

/** Throws a message that says what does not fit and lists what does. */
export function assertFits(params: {
  plan: MemoryPlan;
  device: DeviceMemory;
  batchSize: number;
  gradAccum: number;
}): void {
  const { plan, device, gradAccum } = params;
  if (plan.totalBytes <= device.bytes) return;
  const fits = whatFits(device.bytes, gradAccum);
  const fixed = plan.weightsBytes + plan.gradsBytes + plan.optimizerBytes;
  const list = fits.length
    ? fits.map((f) => `  model.preset: ${f.preset} with training.batch_size ≤ ${f.batchSize}`).join("\n")
    : "  (none of the presets)";
  throw new Error(
    `this configuration does not fit the device: it needs ${gb(plan.totalBytes)} ` +
      `(weights + gradients + AdamW state alone ${gb(fixed)} for ${(plan.params / 1e9).toFixed(2)} B parameters in fp32, ` +
      `activations ${gb(plan.activationBytes)} at batch_size ${params.batchSize}), ` +
      `the device has ${gb(device.bytes)} (${device.source}).\nWhat fits:\n${list}\n` +
      "Lower training.batch_size and raise training.grad_accum to keep the effective batch.",
  );
}
