import { Random } from "@laion/mixer";
import { expect, test } from "vitest";
import { attention, documentMask, KVCache, ropeTables, Transformer } from "../src/model.js";
import { AdamW, lrAt } from "../src/optim.js";
import type { Batch } from "../src/sequences.js";
import { trainStep } from "../src/train-step.js";
import { cpuTf, tinyModel } from "./helpers.js";

const tiny = tinyModel(24);

test("attention gradient matches central finite differences (cpu, float32)", async () => {
  const tf = await cpuTf();
  const B = 2;
  const T = 5;
  const C = 8;
  const rng = new Random(7);
  const t = (shape: number[], std = 0.5) =>
    tf.tensor(
      rng.normals(
        shape.reduce((a, b) => a * b),
        std,
      ),
      shape,
    );
  const x = t([B, T, C]);
  const w = { wq: t([C, C]), wk: t([C, C]), wv: t([C, C]), wo: t([C, C]) };
  const probe = t([B, T, C]);
  // Two documents in row 0, one in row 1: the mask must be part of what is checked.
  const mask = documentMask(tf, Int32Array.from([0, 0, 0, 1, 1, 2, 2, 2, 2, 2]), B, T);
  const rot = ropeTables(tf, T, C / 2, 10000);
  const f = (wq: typeof w.wq, wk: typeof w.wk, wv: typeof w.wv, xx: typeof x) =>
    tf.sum(tf.mul(attention(tf, xx, { wq, wk, wv, wo: w.wo }, 2, mask, rot), probe));
  const grads = tf.grads(f)([w.wq, w.wk, w.wv, x]);
  const targets = [w.wq, w.wk, w.wv, x];
  const eps = 1e-2;
  let checked = 0;
  for (let k = 0; k < targets.length; k++) {
    const base = targets[k]!.dataSync().slice();
    const g = grads[k]!.dataSync();
    for (let idx = 0; idx < base.length; idx += Math.max(1, Math.floor(base.length / 9))) {
      const at = (delta: number) => {
        const v = base.slice();
        v[idx]! += delta;
        const args = targets.map((a, j) => (j === k ? tf.tensor(v, a.shape) : a));
        return f(args[0]!, args[1]!, args[2]!, args[3]!).dataSync()[0]!;
      };
      const fd = (at(eps) - at(-eps)) / (2 * eps);
      expect(Math.abs(fd - g[idx]!)).toBeLessThan(2e-2 * Math.max(1, Math.abs(fd)));
      checked++;
    }
  }
  expect(checked).toBeGreaterThan(30);
});

test("a token attends only to earlier tokens of its own document", async () => {
  const tf = await cpuTf();
  const m = documentMask(tf, Int32Array.from([0, 0, 1, 1]), 1, 4).dataSync();
  const allowed = Array.from(m, (v) => (v === 0 ? 1 : 0));
  // rows = query position, cols = key position
  expect(allowed).toEqual([1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1]);
});

test("forwardCached: a prompt then one token at a time gives forward's logits, and the cache holds them", async () => {
  const tf = await cpuTf();
  const model = new Transformer(tf, tiny, { seed: 5 });
  const seq = [1, 7, 12, 3, 22, 9, 15, 4]; // the whole window (seqLen 8)
  const T = seq.length;
  const full = tf.tidy(() =>
    Array.from(
      model
        .forward(
          tf.tensor2d(Int32Array.from(seq), [1, T], "int32"),
          documentMask(tf, new Int32Array(T), 1, T),
        )
        .dataSync(),
    ),
  );
  const cache = new KVCache();
  const cached: number[] = [];
  // a 3-token prompt, then a 2-token piece, then single tokens: the offsets of every kind of call
  for (const [from, to] of [
    [0, 3],
    [3, 5],
    [5, 6],
    [6, 7],
    [7, 8],
  ] as const) {
    const piece = seq.slice(from, to);
    cached.push(
      ...tf.tidy(() =>
        Array.from(
          model
            .forwardCached(tf.tensor2d(Int32Array.from(piece), [1, piece.length], "int32"), cache)
            .dataSync(),
        ),
      ),
    );
    expect(cache.length).toBe(to);
  }
  expect(cached.length).toBe(full.length);
  const worst = Math.max(...full.map((v, i) => Math.abs(v - cached[i]!)));
  expect(worst).toBeLessThan(1e-4);
  expect(cache.k).toHaveLength(tiny.nLayers);
  expect(cache.k[0]!.shape).toEqual([1, tiny.nHeads, T, tiny.dModel / tiny.nHeads]);
  const before = tf.memory().numTensors;
  cache.dispose();
  expect(tf.memory().numTensors).toBe(before - 2 * tiny.nLayers);
  model.dispose();
});

function fixedBatch(): Batch {
  const B = 2;
  const T = 8;
  const rng = new Random(3);
  const seq = Array.from({ length: B * (T + 1) }, () => 5 + Math.floor(rng.next() * 19));
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      inputs[b * T + t] = seq[b * (T + 1) + t]!;
      targets[b * T + t] = seq[b * (T + 1) + t + 1]!;
    }
  }
  return {
    B,
    T,
    inputs,
    targets,
    docIds: new Int32Array(B * T).map((_, i) => Math.floor(i / T)),
    lossMask: new Float32Array(B * T).fill(1),
    sourceIdx: new Int32Array(B * T),
    modality: new Uint8Array(B * T),
    sources: ["corpus"],
  };
}

test("overfits a tiny batch: loss falls from ~ln(V) to near 0", async () => {
  const tf = await cpuTf();
  const model = new Transformer(tf, tiny, { seed: 1 });
  const opt = new AdamW(tf, model.params, { weightDecay: 0 });
  const batch = fixedBatch();
  const losses: number[] = [];
  for (let s = 0; s < 150; s++) {
    const r = await trainStep({
      model,
      opt,
      micro: [batch],
      lr: lrAt(s, { lr: 1e-2, minLr: 1e-3, warmup: 10, maxSteps: 150 }),
      gradClip: 1,
      lossWeights: { text: 1, image: 1 },
    });
    losses.push(r.loss);
  }
  expect(losses[0]!).toBeGreaterThan(Math.log(24) - 0.5);
  expect(losses.at(-1)!).toBeLessThan(0.05);
  model.dispose();
  opt.dispose();
});

test("learning-rate schedule: linear warmup, cosine to min_lr", () => {
  const s = { lr: 1, minLr: 0.1, warmup: 10, maxSteps: 110 };
  expect(lrAt(0, s)).toBeCloseTo(0.1);
  expect(lrAt(9, s)).toBeCloseTo(1);
  expect(lrAt(60, s)).toBeCloseTo(0.55);
  expect(lrAt(110, s)).toBeCloseTo(0.1);
});
