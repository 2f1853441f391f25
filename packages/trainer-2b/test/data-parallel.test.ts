import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Random } from "@laion/mixer";
import { selectBackend } from "@laion/vq";
import { afterAll, beforeAll, expect, test } from "vitest";
import { findCheckpoint } from "../src/checkpoint.js";
import { parameterShapes, type Tf, Transformer } from "../src/model.js";
import { AdamW } from "../src/optim.js";
import { DataParallelTrainer, shareWork, sliceRows } from "../src/parallel-step.js";
import type { Batch } from "../src/sequences.js";
import { trainMultimodal } from "../src/train.js";
import { type OptimizerStep, type StepResult, trainStep } from "../src/train-step.js";
import { fakeVq, tinyConfig, tinyModel } from "./helpers.js";

// Two threads (main + one worker, each with its own wasm backend) must train like one thread on the
// same micro-batches: each thread's rows carry their share of the loss weights.

const cfg = tinyModel(40);

/** B rows with two documents in row 0, some masked targets and image tokens weighted 2× (uneven weights per row). */
function batch(seed: number, B: number): Batch {
  const T = cfg.seqLen;
  const rng = new Random(seed);
  const n = B * T;
  const int = () => 5 + Math.floor(rng.next() * (cfg.vocabSize - 5));
  return {
    B,
    T,
    inputs: Int32Array.from({ length: n }, int),
    targets: Int32Array.from({ length: n }, int),
    docIds: Int32Array.from({ length: n }, (_, i) => (i < 3 ? 0 : 1 + Math.floor(i / T))),
    lossMask: Float32Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 0 : 1)),
    sourceIdx: Int32Array.from({ length: n }, (_, i) => Math.floor(i / T) % 2),
    modality: Uint8Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0)),
    sources: ["text", "local"],
  };
}

let tf: Tf;
let pool: DataParallelTrainer;
beforeAll(async () => {
  tf = (await selectBackend({ prefer: "wasm" })).tf;
  pool = DataParallelTrainer.start(cfg, 2);
}, 120_000);
afterAll(async () => pool?.close());

async function train(
  step: (p: OptimizerStep) => Promise<StepResult>,
  micro: Batch[],
  model = new Transformer(tf, cfg, { seed: 1 }),
) {
  const opt = new AdamW(tf, model.params, { weightDecay: 0.1 });
  const out: StepResult[] = [];
  // the same batches every step, so the loss falls
  for (let s = 0; s < 4; s++) {
    out.push(await step({ model, opt, micro, lr: 3e-3, gradClip: 1, lossWeights: { text: 1, image: 2 } }));
  }
  const w = Float32Array.from(
    (await Promise.all([...model.params.values()].map(async (p) => Array.from(await p.data())))).flat(),
  );
  model.dispose();
  opt.dispose();
  return { out, w };
}

test("rows [a, b) of a batch", () => {
  const b = batch(1, 3);
  const s = sliceRows(b, 1, 3);
  expect(s.B).toBe(2);
  expect(Array.from(s.inputs)).toEqual(Array.from(b.inputs.subarray(8, 24)));
  expect(s.sources).toEqual(b.sources);
});

test("the work is shared as whole micro-batches when there are enough, else as rows", () => {
  // grad_accum 5 on 2 threads: micro-batches 0-1 and 2-4 (batch_size 1 × grad_accum 64 still parallelises)
  expect(shareWork([4, 4, 4, 4, 4], 2)).toEqual([
    [
      { m: 0, a: 0, b: 4 },
      { m: 1, a: 0, b: 4 },
    ],
    [
      { m: 2, a: 0, b: 4 },
      { m: 3, a: 0, b: 4 },
      { m: 4, a: 0, b: 4 },
    ],
  ]);
  expect(shareWork([1, 1], 2)).toEqual([[{ m: 0, a: 0, b: 1 }], [{ m: 1, a: 0, b: 1 }]]);
  // one micro-batch of 3 rows: rows 0 and 1-2
  expect(shareWork([3], 2)).toEqual([[{ m: 0, a: 0, b: 1 }], [{ m: 0, a: 1, b: 3 }]]);
  // one row cannot be split: the second thread idles
  expect(shareWork([1], 2)).toEqual([[{ m: 0, a: 0, b: 1 }], []]);
});

test.each([
  ["grad_accum 2: a whole micro-batch per thread", () => [batch(10, 3), batch(20, 3)]],
  ["grad_accum 1, an odd row count: rows split 1 + 2", () => [batch(30, 3)]],
])(
  "2 threads ≈ 1 thread (%s): same losses per source, grad norms and weights",
  async (_name, micro) => {
    const one = await train(trainStep, micro());
    const two = await train((p) => pool.step(p), micro());
    for (let s = 0; s < one.out.length; s++) {
      const a = one.out[s]!;
      const b = two.out[s]!;
      expect(b.tokens).toBe(a.tokens);
      expect(Math.abs(b.loss - a.loss)).toBeLessThan(1e-4 * a.loss);
      expect(Math.abs(b.objective - a.objective)).toBeLessThan(1e-4 * a.objective);
      expect(Math.abs(b.gradNorm - a.gradNorm)).toBeLessThan(1e-3 * a.gradNorm);
      for (const k of Object.keys(a.perSource))
        expect(b.perSource[k]!.loss).toBeCloseTo(a.perSource[k]!.loss, 4);
    }
    expect(one.out.at(-1)!.loss).toBeLessThan(one.out[0]!.loss);
    const maxDiff = one.w.reduce((m, v, i) => Math.max(m, Math.abs(v - two.w[i]!)), 0);
    expect(maxDiff).toBeLessThan(1e-4);
  },
  180_000,
);

test("2 threads ≈ 1 thread with image codes read through the frozen VQ codebook on a grid", async () => {
  const icfg = { ...cfg, image: { offset: 20, size: 20, codebookDim: 3, side: 2 } };
  const codebook = Float32Array.from(new Random(5).normals(60, 1));
  const fresh = () => new Transformer(tf, icfg, { seed: 1, codebook });
  const b = batch(40, 3);
  b.inputs.set([3, 21, 22, 23, 24, 4], 0); // <boi>, four codes (one per cell), <eoi>
  const ipool = DataParallelTrainer.start(icfg, 2);
  try {
    const one = await train(trainStep, [b], fresh());
    const two = await train((p) => ipool.step(p), [b], fresh());
    for (let s = 0; s < one.out.length; s++)
      expect(Math.abs(two.out[s]!.loss - one.out[s]!.loss)).toBeLessThan(1e-4 * one.out[s]!.loss);
    // every parameter, the codebook (untouched) included
    expect(one.w.reduce((m, v, i) => Math.max(m, Math.abs(v - two.w[i]!)), 0)).toBeLessThan(1e-4);
    const names = Object.entries(parameterShapes(icfg)).map(
      ([n, sh]) => [n, sh.reduce((a, x) => a * x, 1)] as const,
    );
    const at = names
      .slice(
        0,
        names.findIndex(([n]) => n === "img.codebook"),
      )
      .reduce((a, [, n]) => a + n, 0);
    const initial = Array.from(fresh().p("img.codebook").dataSync());
    expect(Array.from(two.w.subarray(at, at + 60))).toEqual(initial);
  } finally {
    await ipool.close();
  }
}, 180_000);

test("2 threads: a run resumed from its checkpoint continues exactly (the moments the threads hold are saved), and on 1 thread within rounding", async () => {
  const config = (out: string, threads: number) =>
    tinyConfig(out, {
      batch_size: 2,
      grad_accum: 2,
      max_steps: 4,
      eval_every: 100,
      eval_batches: 1,
      checkpoint_every: 2,
      warmup: 1,
      lr: 0.01,
      text_only_prob: 0.5,
      seed: 9,
      threads,
    });
  const run = async (dir: string, more: { stopAfter?: number; resume?: boolean } = {}, threads = 2) => {
    const r = await trainMultimodal({
      config: config(dir, threads),
      tf,
      backendName: "wasm",
      vq: fakeVq(),
      log: () => {},
      ...more,
    });
    expect(r.plan).toMatchObject({ threads, helpers: "thread" });
    return r.records.filter((x) => x.type === "train").map((x) => x.loss);
  };
  const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "train-threads-"));
  const straight = await run(tmp());
  const dir = tmp();
  await run(dir, { stopAfter: 3 });
  expect(path.basename(findCheckpoint(dir)!)).toBe("step-00000002");
  const copy = tmp();
  fs.cpSync(dir, copy, { recursive: true });
  // same thread count, same arithmetic: bit for bit
  expect(await run(dir, { resume: true })).toEqual(straight);
  // the checkpoint's moments are read back by a 1-thread run, which goes on with tfjs's AdamW: the
  // same steps 3 and 4 up to float32 rounding (a run without the moments reads 82.2 instead of 5.45)
  const one = await run(copy, { resume: true }, 1);
  expect(one.slice(0, 2)).toEqual(straight.slice(0, 2));
  for (const s of [2, 3]) expect(one[s]).toBeCloseTo(straight[s]!, 3);
}, 180_000);

test("a data-parallel trainer refuses a model of another size than the one its buffers were made for", async () => {
  // the shared buffers are sized by the first model stepped; another model of that size steps on
  await train((p) => pool.step(p), [batch(50, 2)]);
  const other = new Transformer(tf, tinyModel(48), { seed: 1 });
  const opt = new AdamW(tf, other.params, { weightDecay: 0.1 });
  await expect(
    pool.step({
      model: other,
      opt,
      micro: [batch(40, 2)],
      lr: 3e-3,
      gradClip: 1,
      lossWeights: { text: 1, image: 2 },
    }),
  ).rejects.toThrow(/models of one size only/);
  other.dispose();
  opt.dispose();
}, 120_000);
