import { Random } from "@laion/mixer";
import { beforeAll, expect, test } from "vitest";
import { codeUsage, selectBackend } from "../src/index.js";
import { createQuantizerState, emaUpdate, kmeansInit, l2Normalize, nearestCodes } from "../src/quantizer.js";
import * as tf from "../src/tfjs.js";

// Toy distribution: 64 tight clusters on the unit sphere in 8-D, a 64-entry codebook. A perfect
// quantiser uses every code; the textbook VQ-VAE one (random init near 0, codebook learned by gradient,
// no restarts) keeps only the few codes that happen to win first.
const K = 64;
const D = 8;
const centres = (() => {
  const rng = new Random(7);
  return Array.from({ length: K }, () => {
    const v = Array.from({ length: D }, () => rng.normal());
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  });
})();

function batch(rng: Random, m: number): tf.Tensor2D {
  const data = new Float32Array(m * D);
  for (let i = 0; i < m; i++) {
    const c = centres[rng.int(K)] as number[];
    for (let j = 0; j < D; j++) data[i * D + j] = (c[j] as number) + rng.normal() * 0.05;
  }
  return l2Normalize(tf.tensor2d(data, [m, D]));
}

function usageOn(codebook: tf.Tensor2D, distance: "cosine" | "l2"): number {
  const codes = tf.tidy(() => {
    const z = batch(new Random(99), 4096);
    if (distance === "cosine") return nearestCodes(z, codebook);
    // squared L2: argmin ‖z‖² − 2 z·c + ‖c‖²
    const d = tf.add(tf.mul(tf.matMul(z, codebook, false, true), -2), tf.sum(tf.square(codebook), 1));
    return tf.argMin(d, 1);
  });
  const u = codeUsage(codes.dataSync() as Int32Array, K).usage;
  codes.dispose();
  return u;
}

beforeAll(async () => {
  await selectBackend({ prefer: "wasm" });
});

test("naive VQ-VAE codebook (gradient-learned, N(0,1) init, no restarts) collapses on the toy distribution", () => {
  const rng = new Random(1);
  // like an nn.Embedding default: N(0, 1) entries, so ‖e‖ ≈ √D while the data lives on the unit sphere
  const init = new Float32Array(K * D).map(() => rng.normal());
  const codebook = tf.variable(tf.tensor2d(init, [K, D]), true, "naive-codebook");
  const opt = tf.train.adam(1e-2);
  for (let step = 0; step < 60; step++) {
    const z = batch(rng, 256);
    // codebook loss ‖sg(z) − e‖² through gather: its gradient is UnsortedSegmentSum (our wasm kernel)
    const idx = tf.tidy(() =>
      tf.argMin(tf.add(tf.mul(tf.matMul(z, codebook, false, true), -2), tf.sum(tf.square(codebook), 1)), 1),
    );
    opt.minimize(() => tf.mean(tf.squaredDifference(z, tf.gather(codebook, idx))) as tf.Scalar, false, [
      codebook,
    ]);
    tf.dispose([z, idx]);
  }
  const usage = usageOn(codebook as tf.Tensor2D, "l2");
  codebook.dispose();
  opt.dispose();
  expect(usage).toBeLessThan(0.3);
});

test("EMA quantiser with k-means init and dead-code restart uses (nearly) every code", async () => {
  const rng = new Random(1);
  const state = createQuantizerState(K, D, 1, "toy/");
  const first = batch(rng, 256);
  await kmeansInit(state, first, { rng, batches: 1 });
  first.dispose();
  let restarts = 0;
  for (let step = 0; step < 60; step++) {
    const z = batch(rng, 256);
    const idx = nearestCodes(z, state.codebook as tf.Tensor2D);
    restarts += await emaUpdate(state, z, idx, { decay: 0.9, restartAfter: 5, rng });
    tf.dispose([z, idx]);
  }
  const usage = usageOn(state.codebook as tf.Tensor2D, "cosine");
  tf.dispose([state.codebook, state.emaCount, state.emaSum]);
  expect(usage).toBeGreaterThanOrEqual(0.95);
  expect(restarts).toBeGreaterThan(0); // k-means alone leaves some clusters doubled up; restarts fix them
});

test("codeUsage: fraction used and perplexity", () => {
  const u = codeUsage(Int32Array.from([0, 1, 2, 3]), 8);
  expect(u.usage).toBe(0.5);
  expect(u.used).toBe(4);
  expect(u.perplexity).toBeCloseTo(4, 9);
  expect(codeUsage(Int32Array.from([5, 5, 5]), 8).perplexity).toBe(1);
});
