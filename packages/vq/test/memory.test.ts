import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect, test } from "vitest";
import { resolveConfig, selectBackend, trainVQ } from "../src/index.js";
import { checkTensorFits, checkWasmHeap, largestStepTensor, stepHeapBytes } from "../src/memory-preflight.js";
import { fixturePhotos, photoSamples, small } from "./helpers.js";

test("training steps hold no more tensors at step 12 than at step 4 (nothing leaks per step)", async () => {
  const { tf } = await selectBackend({ prefer: "wasm" });
  const photos = await fixturePhotos();
  const live: Record<number, number> = {};
  const r = await trainVQ({
    out: path.join(await mkdtemp(path.join(tmpdir(), "vq-memory-")), "vq.pt"),
    config: { ...small, restartAfter: 1 }, // dead-code restarts every step: their path is covered too
    samples: photoSamples(photos, 100),
    evalImages: [photos[0]?.bytes as Uint8Array],
    maxSteps: 12,
    evalEvery: 1000,
    batchSize: 4,
    seed: 2,
    onEvent: (e) => {
      if (e.type === "step") live[e.step] = tf.memory().numTensors;
    },
  });
  r.model.dispose();
  expect(live[12]).toBe(live[4]);
}, 60_000);

test("a batch whose training step cannot fit in a wasm heap is refused before any step, naming the flags and what fits", async () => {
  await selectBackend({ prefer: "wasm" });
  const photos = await fixturePhotos();
  const out = path.join(await mkdtemp(path.join(tmpdir(), "vq-heap-")), "vq.pt");
  const run = trainVQ({
    out,
    preset: "256-f16-1k", // 16 images of 256 px: ~7 GiB, where tfjs-backend-wasm used to fail mid-step
    samples: photoSamples(photos, 100),
    evalImages: [photos[0]?.bytes as Uint8Array],
    maxSteps: 1,
    batchSize: 16,
    threads: 1,
    seed: 2,
  });
  await expect(run).rejects.toThrow(
    /batch size 16 \(--batch-size, --threads\).*At most 8 images fit per thread: use --batch-size 8 or less, more --threads \(batch 16 needs 2\)/,
  );
  expect(existsSync(out)).toBe(false);
}, 60_000);

test("the same batch split over two threads fits, and the estimate covers every heap measured", () => {
  const big = resolveConfig({}, "256-f16-1k");
  expect(() => checkWasmHeap(big, 16, 2)).not.toThrow();
  expect(() => checkWasmHeap(resolveConfig({}, "demo"), 64, 1)).not.toThrow();
  const MiB = 2 ** 20;
  // the wasm heap's size after two steps, measured (memory-preflight.ts)
  for (const [images, heap] of [
    [4, 1961],
    [6, 2660],
    [8, 3589],
  ] as const)
    expect(stepHeapBytes(big, images)).toBeGreaterThanOrEqual(heap * MiB);
  for (const [images, heap] of [
    [16, 172],
    [32, 298],
  ] as const)
    expect(stepHeapBytes(resolveConfig({}, "demo"), images)).toBeGreaterThanOrEqual(heap * MiB);
});

test("webgpu: the largest tensor of a step is checked against one buffer's limit, per device's shard", () => {
  const big = resolveConfig({}, "256-f16-1k");
  const MiB = 2 ** 20;
  // the decoder's last upsampled input, 256 × 256 × 128 floats an image, outgrows the first conv's output (64 channels)
  expect(largestStepTensor(big, 1)).toEqual({
    name: "an upsampled decoder input [1, 256, 256, 128]",
    bytes: 32 * MiB,
  });
  // 64 px, f=4, 512 codes: the distances of 16 × 16 cells to every code are the largest
  expect(largestStepTensor(resolveConfig({}, "64-f4-small"), 2).name).toBe(
    "the distances to every code [512, 512]",
  );
  const llvmpipe = {
    backend: "webgpu",
    name: "llvmpipe",
    software: true,
    maxTensorBytes: 128 * MiB,
    reason: "test",
  } as const;
  expect(() => checkTensorFits(big, 4, 1, llvmpipe)).not.toThrow();
  expect(() => checkTensorFits(big, 5, 1, llvmpipe)).toThrow(
    "batch size 5 (--batch-size, --devices): the largest tensor of a training step, an upsampled decoder input [5, 256, 256, 128] (160 MiB), exceeds what one buffer may hold on webgpu on llvmpipe: 128 MiB (the adapter's maxStorageBufferBindingSize / maxBufferSize). At most 4 images fit per device: use --batch-size 4 or less, or more --devices (one per GPU).",
  );
  // two devices each hold half the batch
  expect(() => checkTensorFits(big, 8, 2, llvmpipe)).not.toThrow();
  expect(() => checkTensorFits(big, 10, 2, llvmpipe)).toThrow(
    /split over 2 devices.*\[5, 256, 256, 128\].*use --batch-size 8 or less\./,
  );
  // no per-buffer limit known (wasm, cpu, tfjs-node-gpu): nothing to check here
  expect(() => checkTensorFits(big, 512, 1, { backend: "wasm", name: "wasm", reason: "test" })).not.toThrow();
});
