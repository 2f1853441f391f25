// The optimizer step of a data-parallel wasm run over flat float32 buffers (the model's parameters
// end to end, in its order), a range at a time, so that every thread does its share of it. On one
// core, tfjs's clip + AdamW is one tensor op after another over each parameter, ~10 passes over
// memory; on the `small` preset it and the gradient sum were 336 of the 424 ms a step the main thread
// spent alone while the helper waited (docs/benchmarks.md, issue 16). Here the sum, the norm and the
// update are two fused passes, split between the threads. Same arithmetic as AdamW (optim.ts), in
// float64 between float32 loads and stores.
import type * as TF from "@tensorflow/tfjs-core";

/**
 * Weight decay applies to matrices only: norm gains (1-D) are not shrunk towards 0. The rule of both
 * updates, this one and AdamW's tensor ops (optim.ts).
 */
export const decays = (p: { shape: readonly number[] }): boolean => p.shape.length >= 2;

/** Where each parameter sits in the flat buffers, and how the update treats it. */
export interface FlatSegment {
  offset: number;
  size: number;
  /** Updated at all: frozen parameters (the VQ codebook) get no update and no decay. */
  trainable: boolean;
  /** Weight-decayed (optim.ts `decays`). */
  decay: boolean;
}

export function flatLayout(params: Map<string, TF.Variable>): FlatSegment[] {
  let offset = 0;
  return [...params.values()].map((p) => {
    const s = { offset, size: p.size, trainable: p.trainable, decay: decays(p) };
    offset += p.size;
    return s;
  });
}

/** The shared buffers of one optimizer step: weights and moments, and each thread's gradient sum. */
export interface FlatState {
  weights: Float32Array;
  m: Float32Array;
  v: Float32Array;
  /** Thread 0's gradients first: the others are added into it. */
  grads: Float32Array[];
}

/** grads[0][from, to) += the other threads' gradients there; returns the sum of squares of the result. */
export function sumGradients(grads: Float32Array[], from: number, to: number): number {
  const [total, ...others] = grads as [Float32Array, ...Float32Array[]];
  for (const g of others) for (let j = from; j < to; j++) total[j]! += g[j]!;
  let squares = 0;
  for (let j = from; j < to; j++) squares += total[j]! * total[j]!;
  return squares;
}

export interface AdamWHyper {
  lr: number;
  /** Clip factor applied to the gradients (1 = unclipped). */
  scale: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based update count, for the bias correction. */
  t: number;
}

/** One AdamW update of weights and moments over [from, to), from the summed gradients grads[0]. */
export function adamwRange(
  layout: FlatSegment[],
  s: FlatState,
  from: number,
  to: number,
  h: AdamWHyper,
): void {
  const { weights: w, m, v } = s;
  const g = s.grads[0]!;
  const { beta1: b1, beta2: b2, eps, lr } = h;
  // m/c1 / (sqrt(v/c2) + eps) with the divisions hoisted out of the loop; the clip folded into the moments' rates
  const a1 = (1 - b1) * h.scale;
  const a2 = (1 - b2) * h.scale * h.scale;
  const step = lr / (1 - b1 ** h.t);
  const rootC2 = Math.sqrt(1 - b2 ** h.t);
  for (const seg of layout) {
    const a = Math.max(from, seg.offset);
    const b = Math.min(to, seg.offset + seg.size);
    if (a >= b || !seg.trainable) continue;
    const keep = seg.decay ? 1 - lr * h.weightDecay : 1;
    for (let j = a; j < b; j++) {
      const gj = g[j]!;
      const mj = m[j]! * b1 + gj * a1;
      const vj = v[j]! * b2 + gj * gj * a2;
      m[j] = mj;
      v[j] = vj;
      w[j] = w[j]! * keep - (step * mj) / (Math.sqrt(vj) / rootC2 + eps);
    }
  }
}

/** The buffers and layout a thread steps in; the same in every thread (shared memory). */
export interface FlatHeld {
  state: FlatState;
  layout: FlatSegment[];
}

/** A pass every thread runs over its range: sum the gradients (→ sum of squares), or update. */
export type FlatOp = { type: "reduce" } | { type: "adam"; hyper: AdamWHyper };

/** Run `op` over [from, to); the sum of squares for "reduce", 0 for "adam". */
export function runFlatOp(held: FlatHeld, op: FlatOp, from: number, to: number): number {
  if (op.type === "reduce") return sumGradients(held.state.grads, from, to);
  adamwRange(held.layout, held.state, from, to, op.hyper);
  return 0;
}
