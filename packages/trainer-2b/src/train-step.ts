// One optimizer step: gradient accumulation over micro-batches, clip, AdamW; and the statistics
// (loss per source and per modality) that go into metrics.jsonl.
import type * as TF from "@tensorflow/tfjs-core";
import { documentMask, type Transformer } from "./model.js";
import type { AdamW } from "./optim.js";
import { clipByGlobalNorm } from "./optim.js";
import type { Batch } from "./sequences.js";

export interface LossWeights {
  text: number;
  image: number;
  /** Codes of text→image documents (drawn after their caption); default `image`. */
  imageCaptioned?: number;
}

export interface LossStats {
  /** Mean cross-entropy (nats/token) over all loss-masked targets, unweighted. */
  loss: number;
  /** Weighted objective that was optimised. */
  objective: number;
  tokens: number;
  perSource: Record<string, { loss: number; tokens: number }>;
  perModality: { text: { loss: number; tokens: number }; image: { loss: number; tokens: number } };
}

/** Per-token loss weights (loss mask × modality weight) and their sum, the loss's denominator. */
export function tokenWeights(batch: Batch, w: LossWeights): { weights: Float32Array; sum: number } {
  const weights = new Float32Array(batch.B * batch.T);
  const byModality = [w.text, w.image, w.imageCaptioned ?? w.image];
  for (let i = 0; i < weights.length; i++) weights[i] = batch.lossMask[i]! * byModality[batch.modality[i]!]!;
  return { weights, sum: weights.reduce((a, b) => a + b, 0) };
}

function batchTensors(model: Transformer, batch: Batch, w: LossWeights) {
  const { tf } = model;
  const { B, T } = batch;
  const { weights, sum } = tokenWeights(batch, w);
  return {
    inputs: tf.tensor2d(batch.inputs, [B, T], "int32"),
    cells: model.cells(batch.inputs, B, T),
    targets: tf.tensor2d(batch.targets, [B, T], "int32"),
    mask: documentMask(tf, batch.docIds, B, T),
    weights: tf.tensor1d(weights),
    weightSum: sum,
  };
}

/** Aggregate per-token losses into per-source / per-modality sums (merge several with `mergeStats`). */
export function statsOf(batch: Batch, ce: Float32Array, objective: number): LossStats {
  const perSource: LossStats["perSource"] = {};
  const perModality = { text: { loss: 0, tokens: 0 }, image: { loss: 0, tokens: 0 } };
  let sum = 0;
  let n = 0;
  for (let i = 0; i < ce.length; i++) {
    if (!batch.lossMask[i]) continue;
    const name = batch.sources[batch.sourceIdx[i]!] ?? "?";
    const s = perSource[name] ?? { loss: 0, tokens: 0 };
    perSource[name] = s;
    s.loss += ce[i]!;
    s.tokens++;
    const m = batch.modality[i] ? perModality.image : perModality.text;
    m.loss += ce[i]!;
    m.tokens++;
    sum += ce[i]!;
    n++;
  }
  return { loss: sum, objective, tokens: n, perSource, perModality };
}

/** Sums → means. */
export function finishStats(parts: LossStats[]): LossStats {
  const out: LossStats = {
    loss: 0,
    objective: 0,
    tokens: 0,
    perSource: {},
    perModality: { text: { loss: 0, tokens: 0 }, image: { loss: 0, tokens: 0 } },
  };
  for (const p of parts) {
    out.loss += p.loss;
    out.tokens += p.tokens;
    out.objective += p.objective / parts.length;
    for (const [k, s] of Object.entries(p.perSource)) {
      const o = out.perSource[k] ?? { loss: 0, tokens: 0 };
      out.perSource[k] = o;
      o.loss += s.loss;
      o.tokens += s.tokens;
    }
    for (const k of ["text", "image"] as const) {
      out.perModality[k].loss += p.perModality[k].loss;
      out.perModality[k].tokens += p.perModality[k].tokens;
    }
  }
  const mean = (s: { loss: number; tokens: number }) => (s.loss = s.tokens ? s.loss / s.tokens : Number.NaN);
  out.loss = out.tokens ? out.loss / out.tokens : Number.NaN;
  Object.values(out.perSource).forEach(mean);
  mean(out.perModality.text);
  mean(out.perModality.image);
  return out;
}

/** Weighted mean loss (scalar) and per-token CE [B*T] of a batch; used by training and gradient checks. */
export function batchLoss(model: Transformer, batch: Batch, w: LossWeights) {
  const tf = model.tf;
  const t = batchTensors(model, batch, w);
  const lossFn = () => {
    const ce = model.tokenLoss(model.forward(t.inputs, t.mask, t.cells), t.targets); // [B*T]
    return { ce, loss: tf.div(tf.sum(tf.mul(ce, t.weights)), Math.max(t.weightSum, 1e-9)) as TF.Scalar };
  };
  const dispose = () => tf.dispose([t.inputs, t.targets, t.mask, t.weights, ...(t.cells ? [t.cells] : [])]);
  return { lossFn, dispose };
}

export interface StepResult extends LossStats {
  gradNorm: number;
  lr: number;
}

/**
 * Gradients (keyed by tfjs variable name) of one micro-batch's weighted mean loss, its per-token
 * cross-entropy and the loss. Host reads are `await data()`: webgpu's synchronous read needs a
 * browser canvas.
 */
export async function microGradients(
  model: Transformer,
  batch: Batch,
  w: LossWeights,
): Promise<{ grads: Record<string, TF.Tensor>; ce: Float32Array; objective: number }> {
  const tf = model.tf;
  const { lossFn, dispose } = batchLoss(model, batch, w);
  let ceKept: TF.Tensor | undefined;
  const { value, grads } = tf.variableGrads(
    () => {
      const { ce, loss } = lossFn();
      ceKept = tf.keep(ce);
      return loss;
    },
    [...model.params.values()].filter((v) => v.trainable),
  ); // frozen ones (the VQ codebook) get no entry
  const objective = (await value.data())[0]!;
  const ce = (await ceKept!.data()) as Float32Array;
  tf.dispose([value, ceKept!]);
  dispose();
  return { grads, ce, objective };
}

export interface OptimizerStep {
  model: Transformer;
  opt: AdamW;
  micro: Batch[];
  lr: number;
  gradClip: number;
  lossWeights: LossWeights;
}

/** Mean of the micro-batches' gradients (by parameter name) → clip → AdamW; the step's statistics. */
export async function applyStep(
  params: OptimizerStep,
  grads: Record<string, TF.Tensor>,
  parts: LossStats[],
): Promise<StepResult> {
  const { norm, grads: clipped } = await clipByGlobalNorm(params.model.tf, grads, params.gradClip);
  params.opt.apply(clipped, params.lr);
  params.model.tf.dispose(Object.values(clipped));
  return { ...finishStats(parts), gradNorm: norm, lr: params.lr };
}

export async function trainStep(params: OptimizerStep): Promise<StepResult> {
  const { model, micro, lossWeights } = params;
  const tf = model.tf;
  const vars = [...model.params.values()];
  const names = [...model.params.keys()];
  let acc: Record<string, TF.Tensor> | undefined;
  const parts: LossStats[] = [];
  for (const batch of micro) {
    const { grads, ce, objective } = await microGradients(model, batch, lossWeights);
    parts.push(statsOf(batch, ce, objective));
    if (!acc) acc = grads;
    else {
      for (const n of Object.keys(grads)) {
        const sum = tf.add(acc[n]!, grads[n]!);
        tf.dispose([acc[n]!, grads[n]!]);
        acc[n] = sum;
      }
    }
  }
  // variableGrads keys gradients by the tfjs variable name; map them back to parameter names.
  const byName: Record<string, TF.Tensor> = {};
  names.forEach((n, i) => {
    const g = acc![vars[i]!.name];
    if (!g) return;
    byName[n] = micro.length > 1 ? tf.div(g, micro.length) : g;
    if (micro.length > 1) g.dispose();
  });
  return applyStep(params, byName, parts);
}

/** Loss statistics on fixed batches without gradients (held-out evaluation). */
export async function evaluate(model: Transformer, batches: Batch[], w: LossWeights): Promise<LossStats> {
  const tf = model.tf;
  const parts: LossStats[] = [];
  for (const batch of batches) {
    const { lossFn, dispose } = batchLoss(model, batch, w);
    const { ce, loss } = tf.tidy(() => lossFn());
    parts.push(statsOf(batch, (await ce.data()) as Float32Array, (await loss.data())[0]!));
    tf.dispose([ce, loss]);
    dispose();
  }
  return finishStats(parts);
}
