import { Random } from "@laion/mixer";
import * as tf from "./tfjs.js";

/** x / ‖x‖ along the last axis. */
export function l2Normalize<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.mul(x, tf.rsqrt(tf.add(tf.sum(tf.square(x), -1, true), 1e-12)))) as T;
}

/** Index of the nearest code for each row of z [M,D] (cosine: both sides are unit vectors). */
export function nearestCodes(z: tf.Tensor2D, codebook: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.argMax(tf.matMul(z, codebook, false, true), 1) as tf.Tensor1D);
}

/**
 * Quantise z [M,D] to its nearest codes with a straight-through gradient. The lookup runs inside a
 * customGrad forward, so it is not recorded on the gradient tape: no gradient flows into the int32
 * indices (tfjs would reject one) nor into the codebook (it is updated by EMA, not by gradients).
 * Returns the straight-through output (value q, gradient of z), the codes, and q as a constant.
 */
export function quantizeStraightThrough(
  z: tf.Tensor2D,
  codebook: tf.Tensor2D,
): { st: tf.Tensor2D; codes: tf.Tensor1D; q: tf.Tensor2D } {
  let codes: tf.Tensor1D | undefined;
  let q: tf.Tensor2D | undefined;
  const op = tf.customGrad(((x: tf.Tensor2D) => {
    codes = tf.keep(nearestCodes(x, codebook));
    q = tf.keep(tf.gather(codebook, codes) as tf.Tensor2D);
    return { value: tf.clone(q), gradFunc: (dy: tf.Tensor) => dy };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const st = op(z) as tf.Tensor2D;
  return { st, codes: codes as tf.Tensor1D, q: q as tf.Tensor2D };
}

export interface QuantizerState {
  /** [K,D] unit-norm codes. */
  codebook: tf.Variable;
  /** [K] EMA of assignments per step. */
  emaCount: tf.Variable;
  /** [K,D] EMA of the sum of assigned vectors. */
  emaSum: tf.Variable;
  /** [K] steps since each code was last assigned (host-side; saved in checkpoints). */
  unused: Float32Array;
}

export function createQuantizerState(
  codebookSize: number,
  codeDim: number,
  seed: number,
  prefix: string,
): QuantizerState {
  const rng = new Random(seed ^ 0x51ed);
  const init = new Float32Array(codebookSize * codeDim).map(() => rng.normal());
  return {
    codebook: tf.variable(
      l2Normalize(tf.tensor2d(init, [codebookSize, codeDim])),
      false,
      `${prefix}quant.codebook`,
    ),
    emaCount: tf.variable(tf.zeros([codebookSize]), false, `${prefix}quant.ema_count`),
    emaSum: tf.variable(tf.zeros([codebookSize, codeDim]), false, `${prefix}quant.ema_sum`),
    unused: new Float32Array(codebookSize),
  };
}

// Host reads below are `await data()`: webgpu's synchronous read needs a browser canvas.

/** Whether k-means init has happened (it leaves non-zero usage statistics). */
export async function isInitialised(state: QuantizerState): Promise<boolean> {
  const total = tf.sum(state.emaCount);
  const [v] = await total.data();
  total.dispose();
  return (v as number) > 0;
}

/**
 * Spherical k-means on unit vectors z [M,D] → codebook and statistics as if every point had been seen
 * once per `batches` steps. Seeds centroids with distinct random rows (k-means init from real encoder
 * outputs is what keeps a fresh codebook from starting in an empty region).
 */
export async function kmeansInit(
  state: QuantizerState,
  z: tf.Tensor2D,
  params: { rng: Random; iterations?: number; batches: number },
): Promise<void> {
  const [M, D] = z.shape;
  const K = state.codebook.shape[0] as number;
  const rows = await z.data();
  const seeds = new Float32Array(K * D);
  const order = Array.from({ length: M }, (_, i) => i);
  for (let i = M - 1; i > 0; i--) {
    const j = params.rng.int(i + 1);
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  for (let k = 0; k < K; k++) {
    const r = order[k % M] as number;
    for (let d = 0; d < D; d++)
      seeds[k * D + d] = (rows[r * D + d] as number) + (k >= M ? params.rng.normal() * 0.01 : 0);
  }
  let centroids = l2Normalize(tf.tensor2d(seeds, [K, D]));
  for (let it = 0; it < (params.iterations ?? 10); it++) {
    const next = tf.tidy(() => {
      const idx = nearestCodes(z, centroids);
      const sums = tf.unsortedSegmentSum(z, idx, K);
      const counts = tf.unsortedSegmentSum(tf.onesLike(idx).toFloat(), idx, K);
      // empty clusters keep their previous centroid
      const empty = tf.expandDims(tf.equal(counts, 0), 1);
      return l2Normalize(tf.where(tf.tile(empty, [1, D]), centroids, sums)) as tf.Tensor2D;
    });
    centroids.dispose();
    centroids = next;
  }
  tf.tidy(() => {
    const idx = nearestCodes(z, centroids);
    const counts = tf.div(tf.unsortedSegmentSum(tf.onesLike(idx).toFloat(), idx, K), params.batches);
    state.codebook.assign(centroids);
    state.emaCount.assign(counts);
    state.emaSum.assign(tf.mul(centroids, tf.expandDims(counts, 1)));
  });
  centroids.dispose();
}

/**
 * One EMA codebook update from a batch of unit vectors z [M,D] and their codes; then dead-code restart:
 * codes that no batch has used for `restartAfter` steps are moved onto distinct random vectors of this
 * batch (recent encoder outputs), with statistics reset to the mean so they get a fair chance.
 * Returns the number of restarted codes.
 */
export async function emaUpdate(
  state: QuantizerState,
  z: tf.Tensor2D,
  idx: tf.Tensor1D,
  params: { decay: number; restartAfter: number; rng: Random },
): Promise<number> {
  const K = state.codebook.shape[0] as number;
  const D = state.codebook.shape[1] as number;
  const d = params.decay;
  const counts = tf.tidy(() => tf.unsortedSegmentSum(tf.onesLike(idx).toFloat(), idx, K));
  tf.tidy(() => {
    const sums = tf.unsortedSegmentSum(z, idx, K);
    state.emaCount.assign(tf.add(tf.mul(state.emaCount, d), tf.mul(counts, 1 - d)));
    state.emaSum.assign(tf.add(tf.mul(state.emaSum, d), tf.mul(sums, 1 - d)));
    // unused codes have a decaying sum pointing the same way: normalising keeps them in place
    state.codebook.assign(l2Normalize(tf.add(state.emaSum, tf.mul(state.codebook, 1e-6))));
  });
  const hits = await counts.data();
  counts.dispose();
  const dead: number[] = [];
  for (let k = 0; k < K; k++) {
    state.unused[k] = (hits[k] as number) > 0 ? 0 : (state.unused[k] as number) + 1;
    if (params.restartAfter > 0 && (state.unused[k] as number) >= params.restartAfter) dead.push(k);
  }
  if (dead.length === 0) return 0;
  const count = await state.emaCount.data();
  let total = 0;
  for (const c of count) total += c;
  const mean = total / K;
  const M = z.shape[0];
  const rows = await z.data();
  const codebook = (await state.codebook.data()).slice();
  const sum = (await state.emaSum.data()).slice();
  const newCount = Float32Array.from(count);
  for (const k of dead) {
    const r = params.rng.int(M);
    let norm = 0;
    const v = new Float32Array(D);
    for (let j = 0; j < D; j++) {
      // a little noise: two dead codes restarted on the same vector must not stay twins
      v[j] = (rows[r * D + j] as number) + params.rng.normal() * 0.01;
      norm += (v[j] as number) ** 2;
    }
    norm = Math.sqrt(norm) || 1;
    for (let j = 0; j < D; j++) {
      codebook[k * D + j] = (v[j] as number) / norm;
      sum[k * D + j] = ((v[j] as number) / norm) * mean;
    }
    newCount[k] = mean;
    state.unused[k] = 0;
  }
  tf.tidy(() => {
    state.codebook.assign(tf.tensor2d(codebook, [K, D]));
    state.emaSum.assign(tf.tensor2d(sum, [K, D]));
    state.emaCount.assign(tf.tensor1d(newCount));
  });
  return dead.length;
}

/** Codebook usage of a set of codes: fraction of entries used, and perplexity exp(H) of the histogram. */
export function codeUsage(
  codes: Int32Array,
  codebookSize: number,
): { usage: number; perplexity: number; used: number } {
  const hist = new Float64Array(codebookSize);
  for (const c of codes) hist[c] = (hist[c] as number) + 1;
  let used = 0;
  let entropy = 0;
  for (const h of hist) {
    if (h > 0) {
      used++;
      const p = h / codes.length;
      entropy -= p * Math.log(p);
    }
  }
  return { usage: used / codebookSize, perplexity: Math.exp(entropy), used };
}
