// @laion/vq throughput: training img/s on the wasm vs the cpu backend (same process, same data), and the
// model's achieved FLOP/s against the measured wasm matmul peak.
//
//   (cd packages/vq && npx tsup) && node tools/bench/vq.bench.mjs [--preset demo] [--steps 8] [--cpu-steps 2] [--batch 8]
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { forwardFlops, resolveConfig, selectBackend, trainVQ } from "../../packages/vq/dist/index.js";
import { benchFlags, fixturePhotos, photoSamples } from "./bench-inputs.mjs";
import { matmulRate } from "./matmul-rate.mjs";

const {
  preset,
  steps,
  cpuSteps,
  batch: batchSize,
  cpuBatch,
} = benchFlags({
  preset: { type: "string", default: "demo" },
  steps: { type: "number", default: 8 },
  "cpu-steps": { type: "number", default: 1 },
  batch: { type: "number", default: 8 },
  "cpu-batch": { type: "number", default: 2 },
});
const photos = await fixturePhotos();

/** Best of 256/512/1024 square products: the wasm matmul peak the model's FLOP/s is compared with. */
const matmulPeak = (tf) => Math.max(...[256, 512, 1024].map((n) => matmulRate(tf, n, n, n, 4)));

async function trainThroughput(backend, n, batchSize) {
  await selectBackend({ prefer: backend });
  const out = path.join(await mkdtemp(path.join(tmpdir(), "vq-bench-")), "vq.pt");
  // the first step includes k-means init and kernel warm-up: time steps 2..n+1
  let t0 = 0;
  let images = 0;
  const r = await trainVQ({
    out,
    samples: () => photoSamples(photos),
    evalImages: [photos[0]],
    maxSteps: n + 1,
    evalEvery: 1_000_000,
    batchSize,
    preset,
    seed: 1,
    onEvent: (e) => {
      if (e.type === "step") console.error(`  ${backend} step ${e.step}: loss ${e.loss.toFixed(4)}`);
      if (e.type === "step" && e.step === 1) t0 = performance.now();
      else if (e.type === "step") images += batchSize;
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  r.model.dispose();
  return images / seconds;
}

const { tf } = await selectBackend({ prefer: "wasm" });
const config = resolveConfig({}, preset);
const flopsPerImage = 3 * forwardFlops(config); // forward + backward ≈ 3× forward
const peak = await matmulPeak(tf);
console.error(`wasm matmul peak ${peak.toFixed(1)} GFLOP/s`);
const wasm = await trainThroughput("wasm", steps, batchSize);
// the same batch as cpu for a like-for-like ratio (the cpu backend is too slow for big batches)
const wasmSmall = await trainThroughput("wasm", steps, cpuBatch);
console.error(`wasm ${wasm.toFixed(2)} img/s`);
const cpu = await trainThroughput("cpu", cpuSteps, cpuBatch);
const modelGflops = (wasm * flopsPerImage) / 1e9;
console.log(
  `${preset} preset: ${(forwardFlops(config) / 1e6).toFixed(0)} MFLOP/image forward, ~${(flopsPerImage / 1e9).toFixed(2)} GFLOP/image per training step`,
);
console.log(`wasm matmul peak: ${peak.toFixed(1)} GFLOP/s (best of 256/512/1024 square)`);
console.log(
  `train wasm: ${wasm.toFixed(2)} img/s  (${modelGflops.toFixed(1)} GFLOP/s = ${((100 * modelGflops) / peak).toFixed(0)} % of matmul peak)`,
);
console.log(
  `batch ${cpuBatch}: train wasm ${wasmSmall.toFixed(2)} img/s, cpu ${cpu.toFixed(3)} img/s, ratio wasm/cpu ${(wasmSmall / cpu).toFixed(1)}×`,
);
console.log(
  JSON.stringify({
    bench: "vq",
    preset,
    batchSize,
    peakGflops: peak,
    wasmImgPerSec: wasm,
    modelGflops,
    fractionOfPeak: modelGflops / peak,
    cpuBatch,
    wasmSmallImgPerSec: wasmSmall,
    cpuImgPerSec: cpu,
    ratio: wasmSmall / cpu,
  }),
);
