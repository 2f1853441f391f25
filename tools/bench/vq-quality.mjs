// Quality run for @laion/vq (issue 8's bar): train the demo preset (64 px, f=8 → 64 tokens, 512 codes)
// on random crops of the fixture photos and report PSNR / codebook usage / perplexity on held-out crops.
//
//   (cd packages/vq && npx tsup) && node tools/bench/vq-quality.mjs [--steps 450] [--minutes 28] [--batch 8] [--backend wasm]
//
// Honesty note: the data is derived from 8 photos (fixtures/images/originals/*.jpg + the img2dataset
// reference original.png). Training sees random crops (scale 0.35–1 of the largest square) with flips and
// colour jitter; the held-out set is 256 *different* random crops (another seed, scale 0.2–1) of the same
// photos — held-out crops, not held-out photos.
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { imageToFloat, selectBackend, trainVQ } from "../../packages/vq/dist/index.js";
import { benchFlags, fixturePhotos, photoSamples, ROOT } from "./bench-inputs.mjs";

const flags = benchFlags({
  steps: { type: "number", default: 450 },
  minutes: { type: "number", default: 28 },
  batch: { type: "number", default: 8 },
  backend: { type: "string", default: "wasm" },
  preset: { type: "string", default: "demo" },
  lr: { type: "number" },
  // --model '{"channels":[16,32,64]}': VQConfig fields over the preset
  model: { type: "json" },
  out: { type: "string", default: ".bench/vq-quality/visual_vq.pt" },
  "eval-every": { type: "number", default: 50 },
});
const { steps, minutes, batch: batchSize, backend, preset, lr, model: config } = flags;
const out = path.join(ROOT, flags.out);
await mkdir(path.dirname(out), { recursive: true });

const { name } = await selectBackend({ prefer: backend });
const reference = path.join(ROOT, "fixtures/images/img2dataset-reference/original.png");
const photos = [...(await fixturePhotos()), new Uint8Array(await readFile(reference))];

// mulberry32 for the held-out crops (separate seed from training)
let s = 12345;
const rand = () => {
  s = (s + 0x6d2b79f5) >>> 0;
  let t = Math.imul(s ^ (s >>> 15), s | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const rng = {
  next: rand,
  int: (n) => Math.floor(rand() * n),
  uniform: (a, b) => a + (b - a) * rand(),
  fork: () => rng,
  normal: () => 0,
};
const evalImages = [];
for (let i = 0; i < 256; i++) {
  const px = await imageToFloat(photos[i % photos.length], 64, {
    rng,
    scale: [0.2, 1],
    flip: true,
    colorJitter: 0.15,
  });
  const bytes = Uint8Array.from(px, (v) => Math.round(v * 255));
  evalImages.push(
    new Uint8Array(
      await sharp(bytes, { raw: { width: 64, height: 64, channels: 3 } })
        .png()
        .toBuffer(),
    ),
  );
}

const started = Date.now();
let lastLog = 0;
const result = await trainVQ({
  out,
  samples: () => photoSamples(photos),
  evalImages,
  maxSteps: steps,
  batchSize,
  preset,
  config,
  lr,
  evalEvery: flags.evalEvery,
  seed: 1,
  augment: { scale: [0.35, 1], flip: true, colorJitter: 0.1 },
  signal: AbortSignal.timeout(minutes * 60_000),
  onEvent: (e) => {
    const t = ((Date.now() - started) / 1000).toFixed(0);
    if (e.type === "start")
      console.log(
        `backend ${e.backend}, ${e.parameters} parameters, ${(e.flopsPerImage / 1e6).toFixed(0)} MFLOP/image forward, eval ${e.evalImages} held-out crops`,
      );
    if (e.type === "eval")
      console.log(
        `[${t}s] step ${e.step}: PSNR ${e.psnr.toFixed(2)} dB, usage ${(100 * e.usage).toFixed(1)} % (${e.used}), perplexity ${e.perplexity.toFixed(1)}`,
      );
    if (e.type === "step" && Date.now() - lastLog > 30_000) {
      lastLog = Date.now();
      console.log(
        `[${t}s] step ${e.step} loss ${e.loss.toFixed(4)} img/s ${e.imagesPerSecond.toFixed(2)} batch usage ${(100 * e.batchUsage).toFixed(0)} % restarts ${e.restarts}`,
      );
    }
  },
});
const m = result.lastEval;
console.log(
  JSON.stringify({
    bench: "vq-quality",
    backend: name,
    preset,
    config: result.model.config,
    lr: lr ?? "default",
    steps: result.steps,
    minutes: (Date.now() - started) / 60_000,
    imagesPerSecond: result.imagesPerSecond,
    psnr: m?.psnr,
    usage: m?.usage,
    perplexity: m?.perplexity,
    goal: { psnr: 25, usage: 0.95 },
    metrics: result.metricsPath,
  }),
);
