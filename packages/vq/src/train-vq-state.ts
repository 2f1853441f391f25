// What a VQ run saves beside its weights so `--resume` continues it: the Adam slots, the step, the
// RNG and where the data stream stood (`<out>.optim.safetensors`).
import { readFile, stat } from "node:fs/promises";
import { Random } from "@laion/mixer";
import { type VQConfig, validateConfig } from "./config.js";
import { loadSafetensors, type SafeTensor, saveSafetensors } from "./safetensors.js";
import * as tf from "./tfjs.js";
import { sidecarPath } from "./vq-model.js";

export const optimPath = (out: string) => `${out}.optim.safetensors`;

/** Where a run stands in its data, saved with the optimizer state so `--resume` continues the same stream. */
export interface DataPosition {
  epoch: number;
  /** The step the epoch's source was opened at (its seed argument is `epoch + sourceStep`). */
  sourceStep: number;
  /** The epoch's augmentation RNG state at its start. */
  augment: string;
  /** Samples of the epoch consumed by trained batches. */
  offset: number;
  /**
   * The source's own `state()` just past the last trained sample, and the augmentation RNG there: with
   * them a resume restores the (Resumable) source — it seeks, nothing is replayed. Absent for custom
   * `samples()` sources that are not Resumable (those replay `offset` samples).
   */
  source?: unknown;
  augmentAt?: string;
}

/** Everything a resumed run starts from, read from `out` and `<out>.optim.safetensors`. */
export interface ResumeState {
  config: VQConfig;
  step: number;
  epoch: number;
  /** Undefined for checkpoints written before positions were saved (they re-seed the epoch). */
  data: DataPosition | undefined;
  /** The learning rate the run was started with, when the checkpoint recorded it. */
  lr: number | undefined;
  rng: Random;
  tensors: Record<string, SafeTensor>;
  optim: Record<string, SafeTensor>;
}

export async function loadResumeState(out: string): Promise<ResumeState> {
  try {
    await stat(out);
  } catch {
    throw new Error(`--resume: no checkpoint at ${out}`);
  }
  const ckpt = await loadSafetensors(out);
  const optim = await loadSafetensors(optimPath(out)).catch((err: Error) => {
    throw new Error(`--resume: cannot read optimizer state ${optimPath(out)}: ${err.message}`);
  });
  if (ckpt.metadata.step !== optim.metadata.step) {
    throw new Error(
      `--resume: ${out} is at step ${ckpt.metadata.step} but ${optimPath(out)} at step ${optim.metadata.step}`,
    );
  }
  const config = validateConfig(
    JSON.parse(ckpt.metadata.config ?? (await readFile(sidecarPath(out), "utf8"))) as VQConfig,
  );
  const epoch = Number(optim.metadata.epoch ?? 0) || 0;
  return {
    config,
    step: Number(optim.metadata.step),
    epoch,
    data: parseDataPosition(optim.metadata.data, epoch),
    lr: optim.metadata.lr === undefined ? undefined : Number(optim.metadata.lr),
    rng: Random.fromState(String(optim.metadata.rng)),
    tensors: ckpt.tensors,
    optim: optim.tensors,
  };
}

/** The saved position, or undefined for checkpoints written before positions were saved (they re-seed). */
function parseDataPosition(raw: string | undefined, epoch: number): DataPosition | undefined {
  if (raw === undefined) return undefined;
  const d = JSON.parse(raw) as Partial<DataPosition>;
  const ok =
    Number.isInteger(d.epoch) &&
    Number.isInteger(d.sourceStep) &&
    Number.isInteger(d.offset) &&
    typeof d.augment === "string";
  if (!ok) throw new Error(`--resume: the optimizer state's data position is malformed: ${raw}`);
  return d.epoch === epoch ? (d as DataPosition) : undefined;
}

interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

export async function saveOptimizer(
  optimizer: tf.AdamOptimizer,
  file: string,
  names: string[],
  params: Record<string, tf.Variable>,
  meta: Record<string, string | number>,
): Promise<void> {
  const weights = await optimizer.getWeights();
  const n = names.length;
  if (weights.length !== 1 + 2 * n)
    throw new Error(`optimizer has ${weights.length - 1} slots for ${n} parameters`);
  // `await data()`: webgpu's synchronous read needs a browser canvas
  const iterations = weights[0] ? await weights[0].tensor.data() : [0];
  const tensors: Record<string, SafeTensor> = {
    "adam.iterations": { dtype: "I32", shape: [], data: Int32Array.from(iterations) },
  };
  for (const [i, name] of names.entries()) {
    const m = (weights[1 + i] as NamedTensor).tensor;
    const v = (weights[1 + n + i] as NamedTensor).tensor;
    const shape = (params[name] as tf.Variable).shape;
    tensors[`adam.m.${name}`] = { dtype: "F32", shape, data: (await m.data()) as Float32Array };
    tensors[`adam.v.${name}`] = { dtype: "F32", shape, data: (await v.data()) as Float32Array };
  }
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) metadata[k] = String(v);
  await saveSafetensors(file, tensors, metadata);
}

export async function restoreOptimizer(
  optimizer: tf.AdamOptimizer,
  tensors: Record<string, SafeTensor>,
  names: string[],
  vars: tf.Variable[],
  file: string,
): Promise<void> {
  const it = tensors["adam.iterations"];
  if (!it) throw new Error(`${file}: missing tensor "adam.iterations"`);
  const slot = (kind: "m" | "v", name: string, v: tf.Variable): NamedTensor => {
    const t = tensors[`adam.${kind}.${name}`];
    if (!t) throw new Error(`${file}: missing tensor "adam.${kind}.${name}"`);
    if (t.shape.join(",") !== v.shape.join(",")) {
      throw new Error(
        `${file}: tensor "adam.${kind}.${name}" has shape [${t.shape}] but the model needs [${v.shape}]`,
      );
    }
    return { name: `${v.name}/${kind}`, tensor: tf.tensor(t.data as Float32Array, v.shape) };
  };
  await optimizer.setWeights([
    { name: "iter", tensor: tf.scalar((it.data as Int32Array)[0] ?? 0, "int32") },
    ...names.map((name, i) => slot("m", name, vars[i] as tf.Variable)),
    ...names.map((name, i) => slot("v", name, vars[i] as tf.Variable)),
  ]);
}
