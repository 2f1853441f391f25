import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Random } from "@laion/mixer";
import { afterAll, beforeAll, expect, test } from "vitest";
import { resolveConfig } from "../src/config.js";
import { decodeImages } from "../src/data.js";
import { selectBackend } from "../src/index.js";
import * as tf from "../src/tfjs.js";
import { VQ } from "../src/vq-model.js";
import { DataParallelVQ, type StepResult, singleStep } from "../src/vq-step.js";
import { shardBounds } from "../src/worker-pool.js";
import { fixturePhotos, small, trainSmall } from "./helpers.js";

// Two threads (main + one worker, each with its own wasm backend) must train like one thread on the same
// global batch: the gradient of the batch mean is the size-weighted mean of the shards' gradients, and
// the EMA codebook sees every shard's vectors in batch order.

const STEPS = 5;
let images: Float32Array;
let n: number;
let pool: DataParallelVQ;

beforeAll(async () => {
  await selectBackend({ prefer: "wasm" });
  const photos = await fixturePhotos();
  n = 7; // odd: shards of 3 and 4
  images = await decodeImages(
    photos.slice(0, n).map((p) => p.bytes),
    32,
  );
  pool = DataParallelVQ.start(VQ.create(resolveConfig(small), 3), 2);
}, 120_000);
afterAll(async () => pool?.close());

async function train(step: (ctx: Parameters<typeof singleStep>[0]) => Promise<StepResult>) {
  const model = VQ.create(resolveConfig(small), 3);
  const ctx = { model, optimizer: tf.train.adam(3e-3), rng: new Random(5) };
  const results: StepResult[] = [];
  for (let s = 0; s < STEPS; s++) results.push(await step(ctx));
  const weights = Float32Array.from(await model.trainable()[0]!.data());
  const codebook = Float32Array.from(await model.quant.codebook.data());
  model.dispose();
  return { results, weights, codebook };
}

test("shards are contiguous, cover the batch and are never empty", () => {
  expect(shardBounds(7, 2)).toEqual([
    [0, 3],
    [3, 7],
  ]);
  expect(shardBounds(2, 4)).toEqual([
    [0, 1],
    [1, 2],
  ]);
  expect(shardBounds(5, 1)).toEqual([[0, 5]]);
});

test("2 threads ≈ 1 thread on the same global batch (losses, weights, codebook)", async () => {
  const one = await train((ctx) => singleStep(ctx, images, n));
  const two = await train((ctx) => pool.step(ctx, images, n));
  expect(pool.threads).toBe(2);
  // float32 sums in another order: relative 1e-3 on the losses after 5 Adam steps
  for (let s = 0; s < STEPS; s++) {
    const a = one.results[s]!;
    const b = two.results[s]!;
    expect(Math.abs(b.loss - a.loss)).toBeLessThan(1e-3 * a.loss);
    expect(Math.abs(b.reconstruction - a.reconstruction)).toBeLessThan(1e-3 * a.reconstruction);
    expect(b.usage).toBe(a.usage);
    expect(b.restarts).toBe(a.restarts);
  }
  // the loss moved: the comparison is not between two untrained models
  expect(one.results.at(-1)!.loss).toBeLessThan(one.results[0]!.loss);
  const maxDiff = (x: Float32Array, y: Float32Array) =>
    x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]!)), 0);
  expect(maxDiff(two.weights, one.weights)).toBeLessThan(1e-3);
  expect(maxDiff(two.codebook, one.codebook)).toBeLessThan(1e-3);
}, 180_000);

test("trainVQ with threads: 2 is reproducible and says so in its start event", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "vq-threads-"));
  const run = (name: string) => trainSmall(dir, name, { maxSteps: 4, seed: 2, threads: 2 });
  const a = await run("a");
  const b = await run("b");
  expect(a.start).toMatchObject({ backend: "wasm", threads: 2 });
  expect(a.losses).toHaveLength(4);
  expect(b.losses).toEqual(a.losses);
}, 180_000);
