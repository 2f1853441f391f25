// AdamW (decoupled weight decay, Loshchilov & Hutter) + warmup/cosine schedule + global-norm clip.
import type * as TF from "@tensorflow/tfjs-core";
import { type AdamWHyper, decays, type FlatState } from "./flat-adamw.js";
import type { Tf } from "./model.js";

export interface ScheduleParams {
  lr: number;
  minLr: number;
  warmup: number;
  maxSteps: number;
}

/** Learning rate for optimizer step `step` (0-based): linear warmup, then cosine down to minLr. */
export function lrAt(step: number, s: ScheduleParams): number {
  if (step < s.warmup) return (s.lr * (step + 1)) / s.warmup;
  if (step >= s.maxSteps) return s.minLr;
  const progress = (step - s.warmup) / Math.max(1, s.maxSteps - s.warmup);
  return s.minLr + 0.5 * (s.lr - s.minLr) * (1 + Math.cos(Math.PI * progress));
}

export interface AdamWParams {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay: number;
}

/** A parameter-shaped array a checkpoint can read: a tfjs variable, or a view of a flat host buffer. */
export interface Readable {
  shape: number[];
  data(): Promise<TF.TypedArray>;
}

export class AdamW {
  private readonly m = new Map<string, TF.Variable>();
  private readonly v = new Map<string, TF.Variable>();
  /** The flat buffers holding the moments once a data-parallel trainer has taken them over (holdIn). */
  private host: FlatState | undefined;
  /** Number of updates applied so far (bias correction uses t = step + 1). */
  step = 0;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;

  constructor(
    readonly tf: Tf,
    readonly params: Map<string, TF.Variable>,
    readonly opts: AdamWParams,
    state?: { step: number; m: Record<string, TF.Tensor>; v: Record<string, TF.Tensor> },
  ) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.95;
    this.eps = opts.eps ?? 1e-8;
    for (const [name, p] of params) {
      const m0 = state?.m[name];
      const v0 = state?.v[name];
      if (state && (!m0 || !v0)) throw new Error(`optimizer state has no moments for "${name}"`);
      this.m.set(name, tf.variable(m0 ?? tf.zerosLike(p), false));
      this.v.set(name, tf.variable(v0 ?? tf.zerosLike(p), false));
    }
    if (state) this.step = state.step;
  }

  /**
   * Move the moments into `state.m` / `state.v` (flat, in the parameters' order), where the
   * data-parallel trainer updates them from now on (flat-adamw.ts); `apply` is then refused.
   */
  async holdIn(state: FlatState): Promise<void> {
    if (this.host === state) return;
    if (this.host) throw new Error("AdamW: the moments are held in another trainer's buffers already");
    let offset = 0;
    for (const [name, p] of this.params) {
      state.m.set((await this.m.get(name)!.data()) as Float32Array, offset);
      state.v.set((await this.v.get(name)!.data()) as Float32Array, offset);
      offset += p.size;
    }
    this.disposeMoments();
    this.host = state;
  }

  /** The first and second moments by parameter name, wherever they are held (for a checkpoint). */
  moments(): { m: Map<string, Readable>; v: Map<string, Readable>; step: number } {
    const host = this.host;
    if (!host) return { m: this.m, v: this.v, step: this.step };
    const m = new Map<string, Readable>();
    const v = new Map<string, Readable>();
    let offset = 0;
    for (const [name, p] of this.params) {
      const at = offset;
      m.set(name, { shape: p.shape, data: async () => host.m.slice(at, at + p.size) });
      v.set(name, { shape: p.shape, data: async () => host.v.slice(at, at + p.size) });
      offset += p.size;
    }
    return { m, v, step: this.step };
  }

  /** The settings of the next update over the held buffers (holdIn), counted as applied. */
  nextUpdate(lr: number, scale: number): AdamWHyper {
    if (!this.host) throw new Error("AdamW.nextUpdate: the moments are not held in flat buffers (holdIn)");
    this.step++;
    const { beta1, beta2, eps } = this;
    return { lr, scale, beta1, beta2, eps, weightDecay: this.opts.weightDecay, t: this.step };
  }

  /** Apply one update with gradients `grads` at learning rate `lr`. */
  apply(grads: Record<string, TF.Tensor>, lr: number): void {
    if (this.host) throw new Error("AdamW.apply: the moments are held by a data-parallel trainer (holdIn)");
    const { tf, beta1: b1, beta2: b2, eps } = this;
    const t = this.step + 1;
    const c1 = 1 - b1 ** t;
    const c2 = 1 - b2 ** t;
    tf.tidy(() => {
      for (const [name, p] of this.params) {
        const g = grads[name];
        if (!g || !p.trainable) continue; // frozen (the VQ codebook): no update, no decay
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
        v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
        const decay = decays(p) ? this.opts.weightDecay : 0;
        p.assign(tf.sub(decay > 0 ? tf.mul(p, 1 - lr * decay) : p, tf.mul(update, lr)));
      }
    });
    this.step++;
  }

  dispose(): void {
    this.disposeMoments();
  }

  private disposeMoments(): void {
    for (const x of [...this.m.values(), ...this.v.values()]) x.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/** The factor that brings a gradient of global norm `norm` down to `maxNorm` (1 when within it, or 0 = no clip). */
export function clipScale(norm: number, maxNorm: number): number {
  return !(maxNorm > 0) || norm <= maxNorm ? 1 : maxNorm / (norm + 1e-6);
}

/**
 * Global L2 norm of all gradients, and the gradients scaled so that norm ≤ maxNorm (0 = no clip).
 * Async: the norm is read with `await data()` (webgpu's synchronous read needs a browser canvas).
 */
export async function clipByGlobalNorm(
  tf: Tf,
  grads: Record<string, TF.Tensor>,
  maxNorm: number,
): Promise<{ norm: number; grads: Record<string, TF.Tensor> }> {
  const squared = tf.tidy(() => tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))));
  const norm = Math.sqrt((await squared.data())[0]!);
  squared.dispose();
  const scale = clipScale(norm, maxNorm);
  if (scale === 1) return { norm, grads };
  const out: Record<string, TF.Tensor> = {};
  for (const [k, g] of Object.entries(grads)) {
    out[k] = tf.mul(g, scale);
    g.dispose();
  }
  return { norm, grads: out };
}
