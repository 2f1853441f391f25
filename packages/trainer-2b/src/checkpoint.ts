// Checkpoints: <output>/checkpoints/step-XXXXXXXX/{model.safetensors, optimizer.safetensors, state.json}.
// Written into a temp folder and renamed, then the `latest` pointer is replaced by rename too, so
// a kill -9 at any moment leaves either the previous or the new checkpoint, never half of one.
import fs from "node:fs";
import path from "node:path";
import { writeFileAtomicSync } from "@laion/cli-kit";
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from "@laion/vq";
import type * as TF from "@tensorflow/tfjs-core";
import type { ModelConfig, Tf } from "./model.js";
import type { Readable } from "./optim.js";

export interface CheckpointState {
  format: "laion-trainer-2b-v1";
  step: number;
  model: ModelConfig;
  /** Absolute path of the tokenizer JSON (copied next to the checkpoints). */
  tokenizer: string;
  vocab: { textSize: number; codebookSize: number };
  vqCheckpoint: string | null;
  /** Everything the data pipeline needs to continue the same order (mixer + packer + rng). */
  data: unknown;
  /** The training config as run (for generate and for reference). */
  config: unknown;
}

async function toRaw(vars: Map<string, Readable>, prefix = ""): Promise<Record<string, SafeTensor>> {
  const out: Record<string, SafeTensor> = {};
  for (const [name, v] of vars) {
    out[prefix + name] = { dtype: "F32", shape: v.shape, data: (await v.data()) as Float32Array };
  }
  return out;
}

export async function saveCheckpoint(params: {
  dir: string;
  state: CheckpointState;
  weights: Map<string, TF.Variable>;
  optimizer?: { m: Map<string, Readable>; v: Map<string, Readable>; step: number };
  keep?: number;
}): Promise<string> {
  const root = path.join(params.dir, "checkpoints");
  fs.mkdirSync(root, { recursive: true });
  const name = `step-${String(params.state.step).padStart(8, "0")}`;
  const tmp = path.join(root, `.tmp-${name}-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  const model = await toRaw(params.weights);
  const meta = { format: "laion-trainer-2b-v1", step: String(params.state.step) };
  writeFileAtomicSync(path.join(tmp, "model.safetensors"), encodeSafetensors(model, meta));
  if (params.optimizer) {
    const moments = {
      ...(await toRaw(params.optimizer.m, "m.")),
      ...(await toRaw(params.optimizer.v, "v.")),
    };
    const optimizerMeta = { step: String(params.optimizer.step) };
    writeFileAtomicSync(path.join(tmp, "optimizer.safetensors"), encodeSafetensors(moments, optimizerMeta));
  }
  fs.writeFileSync(path.join(tmp, "state.json"), JSON.stringify(params.state, null, 1));
  const final = path.join(root, name);
  fs.rmSync(final, { recursive: true, force: true });
  fs.renameSync(tmp, final);
  const pointer = path.join(root, "latest");
  writeFileAtomicSync(pointer, name);
  // Keep the newest `keep` checkpoints.
  const all = fs
    .readdirSync(root)
    .filter((d) => /^step-\d+$/.test(d))
    .sort();
  for (const old of all.slice(0, Math.max(0, all.length - (params.keep ?? 2)))) {
    if (old !== name) fs.rmSync(path.join(root, old), { recursive: true, force: true });
  }
  return final;
}

/** The newest complete checkpoint folder under an output dir (or the folder itself), or null. */
export function findCheckpoint(dir: string): string | null {
  if (fs.existsSync(path.join(dir, "state.json"))) return dir;
  const root = path.join(dir, "checkpoints");
  const pointer = path.join(root, "latest");
  if (fs.existsSync(pointer)) {
    const p = path.join(root, fs.readFileSync(pointer, "utf8").trim());
    if (fs.existsSync(path.join(p, "state.json"))) return p;
  }
  if (!fs.existsSync(root)) return null;
  const steps = fs
    .readdirSync(root)
    .filter((d) => /^step-\d+$/.test(d) && fs.existsSync(path.join(root, d, "state.json")))
    .sort();
  return steps.length ? path.join(root, steps.at(-1)!) : null;
}

export interface LoadedCheckpoint {
  dir: string;
  state: CheckpointState;
  weights: Record<string, TF.Tensor>;
  optimizer?: { step: number; m: Record<string, TF.Tensor>; v: Record<string, TF.Tensor> };
}

export function loadCheckpoint(tf: Tf, dir: string, withOptimizer = true): LoadedCheckpoint {
  const found = findCheckpoint(dir);
  if (!found) throw new Error(`no checkpoint in ${dir} (expected checkpoints/latest or state.json)`);
  const state = JSON.parse(fs.readFileSync(path.join(found, "state.json"), "utf8")) as CheckpointState;
  if (state.format !== "laion-trainer-2b-v1")
    throw new Error(`${found}: unknown checkpoint format ${state.format}`);
  const toTf = (r: Record<string, SafeTensor>) =>
    Object.fromEntries(Object.entries(r).map(([k, t]) => [k, tensorOf(tf, t)]));
  const weights = toTf(readSafetensors(path.join(found, "model.safetensors")).tensors);
  let optimizer: LoadedCheckpoint["optimizer"];
  const optFile = path.join(found, "optimizer.safetensors");
  if (withOptimizer && fs.existsSync(optFile)) {
    const { tensors, metadata } = readSafetensors(optFile);
    const m: Record<string, TF.Tensor> = {};
    const v: Record<string, TF.Tensor> = {};
    for (const [k, t] of Object.entries(tensors)) {
      (k.startsWith("m.") ? m : v)[k.slice(2)] = tensorOf(tf, t);
    }
    optimizer = { step: Number(metadata["step"] ?? state.step), m, v };
  }
  return { dir: found, state, weights, ...(optimizer ? { optimizer } : {}) };
}

function readSafetensors(file: string): ReturnType<typeof decodeSafetensors> {
  return decodeSafetensors(fs.readFileSync(file), file);
}

/** Checkpoints hold F32 weights and moments; any other dtype is a file this trainer did not write. */
function tensorOf(tf: Tf, t: SafeTensor): TF.Tensor {
  if (!(t.data instanceof Float32Array || t.data instanceof Int32Array))
    throw new Error(`checkpoint tensor of dtype ${t.dtype}: only F32 and I32 are supported`);
  return tf.tensor(t.data, t.shape);
}
