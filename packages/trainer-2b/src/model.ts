// The decoder-only transformer, top-down: config → RMSNorm → rotary → attention → SwiGLU MLP →
// block → model (init, forward, loss). Pure tfjs ops, so the same file runs on tfjs-node(-gpu),
// wasm and cpu; `tf` is passed in (the namespace returned by selectBackend).
// Shapes: B batch, T time, C d_model, H heads, D = C / H head size, F d_ff, V vocab.

import { Random } from "@laion/mixer";
import type * as TF from "@tensorflow/tfjs-core";
import { BOI, EOI } from "./vocab.js";

export type Tf = typeof TF;
type Tensor = TF.Tensor;

export interface ModelConfig {
  vocabSize: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  dFF: number;
  seqLen: number;
  ropeTheta: number;
  normEps: number;
  /** How the model reads VQ image codes; absent = as plain token ids (see ImageInputs). */
  image?: ImageInputs;
}

/**
 * Image codes are the ids [offset, offset + size). A plain embedding table treats them as unrelated
 * ids with 1-D positions: the model must learn from scratch that two codes are "the same edge in
 * another colour" and that 256 codes are a 16×16 grid. Two options give it that structure:
 * - `codebookDim` > 0: a code's embedding (input, and tied output) is its VQ codebook vector (frozen,
 *   parameter `img.codebook`) through a learned projection `img.proj`, plus its own `wte` row as a
 *   residual that starts at 0: codes alike in the VQ's latent space start alike here.
 * - `side` > 0: a code also gets the learned embedding of its cell, `img.row[r] + img.col[c]` in the
 *   side × side grid (cell = its index after `<boi>`), on top of the rotary sequence position.
 */
export interface ImageInputs {
  offset: number;
  size: number;
  codebookDim: number;
  side: number;
}

// ---------------------------------------------------------------------------------------------
// Linear layers: every matmul of training runs as a plain (untransposed) 2-D matMul. On the wasm
// backend only that form reaches XNNPACK (~8–20 GFLOP/s on one core here); tfjs's own matMul
// gradient uses transposeA/transposeB, which wasm runs in a naive loop at ~2 GFLOP/s, so the
// backward pass is written out with explicit transposes instead (see docs/trainer.md, profile).
const linearOps = new WeakMap<Tf, (a: Tensor, b: Tensor) => Tensor>();

/** a [M, K] · b [K, N] → [M, N], with a backward pass made of untransposed matmuls only. */
export function linear(tf: Tf, a: Tensor, b: Tensor): Tensor {
  let op = linearOps.get(tf);
  if (!op) {
    const custom = tf.customGrad(((x: Tensor, w: Tensor, save: (t: Tensor[]) => void) => {
      save([x, w]);
      return {
        value: tf.matMul(x as TF.Tensor2D, w as TF.Tensor2D),
        gradFunc: (dy: Tensor, saved: Tensor[]) => [
          tf.matMul(dy as TF.Tensor2D, tf.transpose(saved[1]!) as TF.Tensor2D), // dx = dy · wᵀ
          tf.matMul(tf.transpose(saved[0]!) as TF.Tensor2D, dy as TF.Tensor2D), // dw = xᵀ · dy
        ],
      };
    }) as never) as unknown as (a: Tensor, b: Tensor) => Tensor;
    op = custom;
    linearOps.set(tf, op);
  }
  return op(a, b);
}

// ---------------------------------------------------------------------------------------------
// RMSNorm: x / rms(x) · g — no mean subtraction, no bias.
function rmsNorm(tf: Tf, x: Tensor, g: Tensor, eps: number): Tensor {
  const ms = tf.mean(tf.square(x), -1, true); // [B, T, 1]
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), g); // [B, T, C]
}

// ---------------------------------------------------------------------------------------------
// Rotary positions (RoPE, "rotate half" layout): pairs (i, i + D/2) rotate by pos·θ^(-2i/D). The
// tables are full width, each angle written at i and i + D/2, so rope() is two products and a sum.
export function ropeTables(tf: Tf, T: number, D: number, theta: number): { cos: Tensor; sin: Tensor } {
  const half = D / 2;
  const cos = new Float32Array(T * D);
  const sin = new Float32Array(T * D);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const a = t * theta ** (-(2 * i) / D);
      cos[t * D + i] = cos[t * D + i + half] = Math.cos(a);
      sin[t * D + i] = sin[t * D + i + half] = Math.sin(a);
    }
  }
  return { cos: tf.tensor2d(cos, [T, D]), sin: tf.tensor2d(sin, [T, D]) }; // [T, D]
}

// rotate_half(x) = [-x2, x1] as a product with a fixed signed permutation R [D, D]: one XNNPACK
// matmul instead of slice + concat, whose gradients (SplitV, Concat) cost more than the matmul on wasm.
// Keyed by backend too: R lives on the backend that made it, and a process may switch (wasm ↔ webgpu).
const rotateOps = new WeakMap<Tf, Map<string, (x: Tensor) => Tensor>>();
function rotateHalf(tf: Tf, x: Tensor): Tensor {
  const D = x.shape[x.shape.length - 1]!;
  let byD = rotateOps.get(tf);
  if (!byD) {
    byD = new Map();
    rotateOps.set(tf, byD);
  }
  const key = `${tf.getBackend()}/${D}`;
  let op = byD.get(key);
  if (!op) {
    const r = new Float32Array(D * D);
    const h = D / 2;
    for (let i = 0; i < h; i++) {
      r[(i + h) * D + i] = -1; // out[i] = -x[i + D/2]
      r[i * D + i + h] = 1; // out[i + D/2] = x[i]
    }
    const R = tf.keep(tf.tensor2d(r, [D, D]));
    const Rt = tf.keep(tf.transpose(R));
    op = tf.customGrad(((v: Tensor) => ({
      value: tf.matMul(v as TF.Tensor2D, R as TF.Tensor2D),
      gradFunc: (dy: Tensor) => tf.matMul(dy as TF.Tensor2D, Rt as TF.Tensor2D),
    })) as never) as unknown as (x: Tensor) => Tensor;
    byD.set(key, op);
  }
  return tf.reshape(op(tf.reshape(x, [-1, D])), x.shape);
}

function rope(tf: Tf, x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  return tf.add(tf.mul(x, cos), tf.mul(rotateHalf(tf, x), sin)); // x [B, H, T, D], tables [T, D]
}

// ---------------------------------------------------------------------------------------------
// Causal self-attention; `mask` is additive [B, 1, T, T] (0 = may attend, -1e9 = may not) and
// encodes both causality and document boundaries of packed sequences.
export interface AttentionWeights {
  wq: Tensor; // [C, C]
  wk: Tensor; // [C, C]
  wv: Tensor; // [C, C]
  wo: Tensor; // [C, C]
}

export function attention(
  tf: Tf,
  x: Tensor, // [B, T, C]
  w: AttentionWeights,
  nHeads: number,
  mask: Tensor, // [B, 1, T, T]
  rot: { cos: Tensor; sin: Tensor },
): Tensor {
  const { q, k, v } = queriesKeysValues(tf, x, w, nHeads, rot);
  return attend(tf, q, k, v, mask, w.wo);
}

/** q, k (rotated by `rot`, whose rows are the positions of x's tokens) and v, each [B, H, T, D]. */
function queriesKeysValues(
  tf: Tf,
  x: Tensor, // [B, T, C]
  w: AttentionWeights,
  nHeads: number,
  rot: { cos: Tensor; sin: Tensor },
) {
  const [B, T, C] = x.shape as [number, number, number];
  const D = C / nHeads;
  const x2 = tf.reshape(x, [B * T, C]);
  const heads = (wt: Tensor) => tf.transpose(tf.reshape(linear(tf, x2, wt), [B, T, nHeads, D]), [0, 2, 1, 3]);
  return {
    q: rope(tf, heads(w.wq), rot.cos, rot.sin),
    k: rope(tf, heads(w.wk), rot.cos, rot.sin),
    v: heads(w.wv),
  };
}

/** softmax(q kᵀ / √D + mask) v, heads merged and projected by wo: q [B, H, T, D], k and v [B, H, S, D]. */
function attend(tf: Tf, q: Tensor, k: Tensor, v: Tensor, mask: Tensor, wo: Tensor): Tensor {
  const [B, H, T, D] = q.shape as [number, number, number, number];
  const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(D)), mask); // [B, H, T, S]
  const y = tf.matMul(tf.softmax(scores, -1), v); // [B, H, T, D]
  const merged = tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [B * T, H * D]); // [B*T, C]
  return tf.reshape(linear(tf, merged, wo), [B, T, H * D]); // [B, T, C]
}

/** Additive mask [B, 1, T, T] from per-position document ids: causal and within one document. */
export function documentMask(tf: Tf, docIds: Int32Array, B: number, T: number): Tensor {
  const m = new Float32Array(B * T * T);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < T; i++) {
      const di = docIds[b * T + i];
      for (let j = 0; j < T; j++) {
        m[(b * T + i) * T + j] = j <= i && docIds[b * T + j] === di ? 0 : -1e9;
      }
    }
  }
  return tf.tensor4d(m, [B, 1, T, T]);
}

// ---------------------------------------------------------------------------------------------
// SwiGLU MLP: (silu(x W1) ⊙ x W3) W2.
function swiglu(tf: Tf, x: Tensor, w1: Tensor, w3: Tensor, w2: Tensor): Tensor {
  const [B, T, C] = x.shape as [number, number, number];
  const x2 = tf.reshape(x, [B * T, C]);
  const a = linear(tf, x2, w1); // [B*T, F]
  const h = tf.mul(tf.mul(a, tf.sigmoid(a)), linear(tf, x2, w3)); // [B*T, F]
  return tf.reshape(linear(tf, h, w2), [B, T, C]); // [B, T, C]
}

// ---------------------------------------------------------------------------------------------
// Parameters: names are stable (they are the safetensors keys of checkpoints).
export function parameterShapes(cfg: ModelConfig): Record<string, number[]> {
  const { vocabSize: V, dModel: C, dFF: F, nLayers } = cfg;
  const shapes: Record<string, number[]> = { wte: [V, C] };
  for (let l = 0; l < nLayers; l++) {
    shapes[`h.${l}.attn_norm`] = [C];
    for (const n of ["wq", "wk", "wv", "wo"]) shapes[`h.${l}.attn.${n}`] = [C, C];
    shapes[`h.${l}.mlp_norm`] = [C];
    shapes[`h.${l}.mlp.w1`] = [C, F];
    shapes[`h.${l}.mlp.w3`] = [C, F];
    shapes[`h.${l}.mlp.w2`] = [F, C];
  }
  shapes["norm_f"] = [C];
  const im = cfg.image;
  if (im && im.codebookDim > 0) {
    shapes["img.codebook"] = [im.size, im.codebookDim];
    shapes["img.proj"] = [im.codebookDim, C];
  }
  if (im && im.side > 0) {
    shapes["img.row"] = [im.side, C];
    shapes["img.col"] = [im.side, C];
  }
  return shapes;
}

/**
 * Each position's grid cell + 1 among unified ids [B, T] (0: not an image code). A code's cell is its
 * index after `<boi>`; codes at the start of a window whose `<boi>` was cut off are counted back from
 * their `<eoi>` (0 when neither is in the window).
 */
export function imageCells(tokens: ArrayLike<number>, B: number, T: number, image: ImageInputs): Int32Array {
  const cells = image.side * image.side;
  const out = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    let k = -1; // index of the next code after <boi>; -1: no <boi> seen in this image
    let pending: number[] = []; // codes before any <boi>, numbered once their <eoi> is found
    for (let t = 0; t < T; t++) {
      const i = b * T + t;
      const id = tokens[i]!;
      if (id >= image.offset && id < image.offset + image.size) {
        if (k >= 0) out[i] = 1 + (k++ % cells);
        else pending.push(i);
        continue;
      }
      if (id === EOI && pending.length <= cells)
        for (const [n, j] of pending.entries()) out[j] = 1 + cells - pending.length + n;
      pending = [];
      k = id === BOI ? 0 : -1;
    }
  }
  return out;
}

/**
 * The VQ codebook as the model stores it: centred and scaled to unit mean row norm, so the learned
 * projection starts at the same scale as the embedding table whatever the VQ's latent scale.
 */
export function standardCodebook(data: Float32Array, dim: number): Float32Array {
  const n = data.length / dim;
  const mean = new Float64Array(dim);
  for (let i = 0; i < data.length; i++) mean[i % dim]! += data[i]! / n;
  const out = Float32Array.from(data, (x, i) => x - mean[i % dim]!);
  let norms = 0;
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += out[r * dim + d]! ** 2;
    norms += Math.sqrt(s) / n;
  }
  return norms > 0 ? out.map((x) => x / norms) : out;
}

export function countParameters(cfg: ModelConfig): number {
  return Object.values(parameterShapes(cfg)).reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);
}

let modelCounter = 0;

/** A fresh parameter: norm gains 1, matrices N(0, 0.02) (GPT-2), the image inputs as ImageInputs says. */
function initialValue(
  tf: Tf,
  cfg: ModelConfig,
  name: string,
  shape: number[],
  init: { rng: Random; codebook?: Float32Array | undefined },
): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  if (shape.length === 1) return tf.ones(shape);
  const im = cfg.image;
  if (name === "img.codebook") {
    if (!init.codebook || init.codebook.length !== size)
      throw new Error(
        `model.image_embedding "codebook" needs the VQ's codebook of [${shape}] (got ${init.codebook?.length ?? "none"} values)`,
      );
    return tf.tensor(standardCodebook(init.codebook, shape[1]!), shape);
  }
  // Residual projections scaled by 1/sqrt(2·layers).
  const std = /\.(wo|w2)$/.test(name) ? 0.02 / Math.sqrt(2 * cfg.nLayers) : 0.02;
  const values = init.rng.normals(size, std);
  // With codebook embeddings a code's own row is a residual on top of its codebook vector: it starts at 0.
  if (name === "wte" && im && im.codebookDim > 0)
    values.fill(0, im.offset * shape[1]!, (im.offset + im.size) * shape[1]!);
  return tf.tensor(values, shape);
}

/** Per-layer keys and values [B, H, length, D] of the positions decoded so far (see forwardCached). */
export class KVCache {
  k: Tensor[] = [];
  v: Tensor[] = [];
  length = 0;

  dispose(): void {
    for (const t of [...this.k, ...this.v]) t.dispose();
    this.k = [];
    this.v = [];
    this.length = 0;
  }
}

export class Transformer {
  readonly params = new Map<string, TF.Variable>();
  private rot?: { T: number; cos: Tensor; sin: Tensor };

  constructor(
    readonly tf: Tf,
    readonly cfg: ModelConfig,
    /** Fresh (`codebook`: the VQ's, row-major, when cfg.image.codebookDim > 0), or a checkpoint's weights. */
    init: { seed: number; codebook?: Float32Array } | { weights: Record<string, Tensor> },
  ) {
    if (cfg.dModel % cfg.nHeads !== 0 || (cfg.dModel / cfg.nHeads) % 2 !== 0) {
      throw new Error(`d_model (${cfg.dModel}) must split into n_heads (${cfg.nHeads}) heads of even size`);
    }
    const uid = `m${modelCounter++}`;
    const fresh = "seed" in init ? { rng: new Random(init.seed), codebook: init.codebook } : undefined;
    for (const [name, shape] of Object.entries(parameterShapes(cfg))) {
      let value: Tensor;
      if ("weights" in init) {
        const w = init.weights[name];
        if (!w) throw new Error(`checkpoint has no tensor "${name}"`);
        if (w.shape.join(",") !== shape.join(",")) {
          throw new Error(`checkpoint tensor "${name}" has shape [${w.shape}], model expects [${shape}]`);
        }
        value = w;
      } else value = initialValue(tf, cfg, name, shape, fresh!);
      // The codebook is the VQ's and stays so: not trained (variableGrads skips it, AdamW too).
      this.params.set(name, tf.variable(value, name !== "img.codebook", `${uid}/${name}`));
      if (!("weights" in init)) value.dispose();
    }
  }

  p(name: string): TF.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`no parameter ${name}`);
    return v;
  }

  private rotary(T: number) {
    if (!this.rot || this.rot.T < T) {
      this.rot?.cos.dispose();
      this.rot?.sin.dispose();
      const D = this.cfg.dModel / this.cfg.nHeads;
      // The whole window at once: generation grows T one token at a time.
      const rows = Math.max(T, this.cfg.seqLen);
      // Kept: forward() usually runs inside a tidy (variableGrads), which would free the cache.
      const { cos, sin } = ropeTables(this.tf, rows, D, this.cfg.ropeTheta);
      this.rot = { T: rows, cos: this.tf.keep(cos), sin: this.tf.keep(sin) };
    }
    const D = this.cfg.dModel / this.cfg.nHeads;
    return {
      cos: this.tf.slice(this.rot.cos, [0, 0], [T, D]),
      sin: this.tf.slice(this.rot.sin, [0, 0], [T, D]),
    };
  }

  /**
   * Grid cells of image codes (see imageCells) as the int32 [B, T - from] tensor forward and
   * forwardCached take, for the unified ids [B, T] of `tokens` from column `from` on (B = 1 then);
   * undefined when this model has no grid positions.
   */
  cells(tokens: ArrayLike<number>, B: number, T: number, from = 0): Tensor | undefined {
    const im = this.cfg.image;
    if (!im || im.side === 0) return undefined;
    if (from > 0 && B !== 1) throw new Error("cells: `from` needs a single row");
    const all = imageCells(tokens, B, T, im);
    return this.tf.tensor2d(all.subarray(from), [B, T - from], "int32");
  }

  /** Logits [B, T, V] for tokens [B, T] under the additive mask [B, 1, T, T]; `cells` from `cells()`. */
  forward(tokens: Tensor, mask: Tensor, cells?: Tensor): Tensor {
    const rot = this.rotary(tokens.shape[1]!);
    return this.run(tokens, cells, (_layer, h, w) => attention(this.tf, h, w, this.cfg.nHeads, mask, rot));
  }

  /**
   * Logits [B, t, V] for `tokens` [B, t] that follow the `cache.length` positions already in `cache`
   * (generation: each token is read once instead of the whole window at every step). Causal over the
   * cache and the new tokens, one document; the same logits as `forward` on the whole sequence. The
   * cache grows by t (its tensors are kept: call `cache.dispose()` when done).
   */
  forwardCached(tokens: Tensor, cache: KVCache, cells?: Tensor): Tensor {
    const { tf } = this;
    const t = tokens.shape[1]!;
    const past = cache.length;
    const total = this.rotary(past + t);
    const rot = {
      cos: tf.slice(total.cos, [past, 0], [t, -1]),
      sin: tf.slice(total.sin, [past, 0], [t, -1]),
    };
    // new token i (position past + i) sees positions 0 … past + i
    const m = new Float32Array(t * (past + t));
    for (let i = 0; i < t; i++) for (let j = past + i + 1; j < past + t; j++) m[i * (past + t) + j] = -1e9;
    const mask = tf.tensor4d(m, [1, 1, t, past + t]);
    const logits = this.run(tokens, cells, (l, h, w) => {
      const { q, k, v } = queriesKeysValues(tf, h, w, this.cfg.nHeads, rot);
      const keys = tf.keep(cache.k[l] ? tf.concat([cache.k[l]!, k], 2) : tf.clone(k));
      const values = tf.keep(cache.v[l] ? tf.concat([cache.v[l]!, v], 2) : tf.clone(v));
      cache.k[l]?.dispose();
      cache.v[l]?.dispose();
      cache.k[l] = keys;
      cache.v[l] = values;
      return attend(tf, q, keys, values, mask, w.wo);
    });
    mask.dispose();
    cache.length = past + t;
    return logits;
  }

  /**
   * The embedding matrix [V, C] of inputs and (tied) outputs: `wte`, plus for image codes their
   * codebook vectors through `img.proj` when the model reads codes that way (ImageInputs).
   */
  embeddings(): Tensor {
    const { tf, cfg } = this;
    const im = cfg.image;
    const wte = this.p("wte");
    if (!im || im.codebookDim === 0) return wte;
    const C = cfg.dModel;
    const codes = linear(tf, this.p("img.codebook"), this.p("img.proj")); // [K, C]
    const parts = [tf.zeros([im.offset, C]), codes];
    const after = cfg.vocabSize - im.offset - im.size;
    if (after > 0) parts.push(tf.zeros([after, C]));
    return tf.add(wte, tf.concat(parts, 0)); // [V, C]
  }

  /** Each image code's cell embedding img.row[r] + img.col[c] (0 for other tokens), [B*T, C]. */
  private cellEmbeddings(cells: Tensor): Tensor {
    const { tf, cfg } = this;
    const side = cfg.image!.side;
    const C = cfg.dModel;
    const grid = tf.add(
      tf.reshape(this.p("img.row"), [side, 1, C]),
      tf.reshape(this.p("img.col"), [1, side, C]),
    );
    const table = tf.concat([tf.zeros([1, C]), tf.reshape(grid, [side * side, C])], 0); // [1 + cells, C]
    return tf.gather(table, tf.reshape(cells, [-1]));
  }

  /** The layers around an attention function: embeddings → blocks → final norm → tied output. */
  private run(
    tokens: Tensor,
    cells: Tensor | undefined,
    attn: (layer: number, h: Tensor, w: AttentionWeights) => Tensor,
  ): Tensor {
    const { tf, cfg } = this;
    const [B, T] = tokens.shape as [number, number];
    const emb = this.embeddings(); // [V, C]
    let x2 = tf.gather(emb, tf.reshape(tokens, [B * T])); // [B*T, C]
    if (cfg.image && cfg.image.side > 0) {
      if (!cells || cells.size !== B * T)
        throw new Error(
          `this model places image codes on a grid: pass the [${B}, ${T}] cells (Transformer.cells)`,
        );
      x2 = tf.add(x2, this.cellEmbeddings(cells));
    }
    let x = tf.reshape(x2, [B, T, cfg.dModel]); // [B, T, C]
    for (let l = 0; l < cfg.nLayers; l++) {
      const h = rmsNorm(tf, x, this.p(`h.${l}.attn_norm`), cfg.normEps);
      const w = {
        wq: this.p(`h.${l}.attn.wq`),
        wk: this.p(`h.${l}.attn.wk`),
        wv: this.p(`h.${l}.attn.wv`),
        wo: this.p(`h.${l}.attn.wo`),
      };
      x = tf.add(x, attn(l, h, w)); // [B, T, C]
      const m = rmsNorm(tf, x, this.p(`h.${l}.mlp_norm`), cfg.normEps);
      x = tf.add(x, swiglu(tf, m, this.p(`h.${l}.mlp.w1`), this.p(`h.${l}.mlp.w3`), this.p(`h.${l}.mlp.w2`)));
    }
    x = rmsNorm(tf, x, this.p("norm_f"), cfg.normEps);
    // Tied embeddings: the output projection is the embedding matrix transposed.
    const logits = linear(tf, tf.reshape(x, [B * T, cfg.dModel]), tf.transpose(emb)); // [B*T, V]
    return tf.reshape(logits, [B, T, cfg.vocabSize]); // [B, T, V]
  }

  /** Per-position cross-entropy in nats [B*T] (unmasked; callers weight it). */
  tokenLoss(logits: Tensor, targets: Tensor): Tensor {
    const { tf, cfg } = this;
    const flat = tf.reshape(logits, [-1, cfg.vocabSize]); // [B*T, V]
    const logp = tf.logSoftmax(flat, -1); // [B*T, V]
    return tf.neg(tf.sum(tf.mul(logp, tf.oneHot(tf.reshape(targets, [-1]), cfg.vocabSize)), -1)); // [B*T]
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
    this.rot?.cos.dispose();
    this.rot?.sin.dispose();
  }
}
