// Throughput of the trainer-2b transformer (forward + backward + clip + AdamW, one optimizer step) vs
// the backend's matmul rate measured in the same process, on matrices shaped like the model's own.
// Model FLOPs/s: 6 · params · tokens/s (the usual MFU convention) and, next to it, the same plus the
// attention score/value matmuls (12 · layers · T · d_model per token, full T×T as computed).
// Build first: (cd packages/vq && npx tsup) && (cd packages/trainer-2b && npx tsup)
// Run: node tools/bench/trainer.bench.mjs [--config configs/demo.yaml] [--batch N] [--steps 6] [--backend wasm]
import os from "node:os";
import path from "node:path";
import { Random } from "../../packages/mixer/dist/index.js";
import {
  AdamW,
  countParameters,
  loadConfig,
  modelConfigFor,
  resolveShape,
  SPECIALS,
  Transformer,
  trainStep,
} from "../../packages/trainer-2b/dist/index.js";
import { selectBackend } from "../../packages/vq/dist/index.js";
import { benchFlags, ROOT } from "./bench-inputs.mjs";
import { matmulRate, transformerMatmuls } from "./matmul-rate.mjs";

const flags = benchFlags({
  config: { type: "string", default: path.join(ROOT, "configs/demo.yaml") },
  batch: { type: "number" },
  steps: { type: "number", default: 6 },
  backend: { type: "string", default: "wasm" },
  codebook: { type: "number", default: 512 },
});
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
const { tf, name } = await selectBackend({ prefer: flags.backend });
const cfgFile = loadConfig(flags.config);
const shape = resolveShape(cfgFile);
const cfg = modelConfigFor(cfgFile, SPECIALS.length + shape.textVocab + Number(flags.codebook));
const B = Number(flags.batch ?? cfgFile.training.batch_size);
const T = cfg.seqLen;
const N = B * T;

// Baseline: matmul rate on the model's shapes (activations [B·T, ·] times weights), plus 512².
function matmulBaseline() {
  const out = {};
  for (const [label, [m, k, n]] of Object.entries(transformerMatmuls(cfg, N)))
    out[label] = Number(matmulRate(tf, m, k, n).toFixed(2));
  return out;
}

const loadBefore = load();
const mm1 = matmulBaseline();
const params = countParameters(cfg);
const model = new Transformer(tf, cfg, { seed: 0 });
const opt = new AdamW(tf, model.params, { weightDecay: 0.1 });
// token ids past the specials, from the mixer's PRNG (the repo's one), seeded
const rng = new Random(1);
const rnd = () => 5 + rng.int(cfg.vocabSize - 5);
const batch = {
  B,
  T,
  inputs: Int32Array.from({ length: N }, rnd),
  targets: Int32Array.from({ length: N }, rnd),
  docIds: new Int32Array(N).map((_, i) => Math.floor(i / 48)),
  lossMask: new Float32Array(N).fill(1),
  sourceIdx: new Int32Array(N),
  modality: new Uint8Array(N),
  sources: ["bench"],
};
const step = () =>
  trainStep({ model, opt, micro: [batch], lr: 1e-3, gradClip: 1, lossWeights: { text: 1, image: 1 } });
await step(); // warm-up (kernel set-up, JIT)
const steps = Number(flags.steps);
const t0 = performance.now();
for (let i = 0; i < steps; i++) await step();
const sec = (performance.now() - t0) / 1000;
const mm2 = matmulBaseline(); // again after: the machine is shared, so bracket the measurement
const tokensPerS = (N * steps) / sec;
const model6N = (6 * params * tokensPerS) / 1e9;
const withAttn = model6N + (12 * cfg.nLayers * T * cfg.dModel * tokensPerS) / 1e9;
const peak = Math.max(...Object.values(mm1), ...Object.values(mm2));
const shaped = Object.keys(mm1).filter((k) => k !== "512x512x512");
const shapedMean = shaped.reduce((a, k) => a + (mm1[k] + mm2[k]) / 2, 0) / shaped.length;
console.log(
  JSON.stringify(
    {
      backend: name,
      config: path.relative(ROOT, flags.config),
      model: { ...cfg, params, batch: B },
      sPerStep: Number((sec / steps).toFixed(3)),
      tokensPerS: Number(tokensPerS.toFixed(1)),
      modelGflopsPerS_6N: Number(model6N.toFixed(3)),
      modelGflopsPerS_withAttention: Number(withAttn.toFixed(3)),
      matmulGflopsPerS_before: mm1,
      matmulGflopsPerS_after: mm2,
      matmulPeakGflopsPerS: Number(peak.toFixed(2)),
      matmulModelShapedMeanGflopsPerS: Number(shapedMean.toFixed(2)),
      pctOfPeak_6N: Number(((100 * model6N) / peak).toFixed(1)),
      pctOfPeak_withAttention: Number(((100 * withAttn) / peak).toFixed(1)),
      pctOfModelShaped_withAttention: Number(((100 * withAttn) / shapedMean).toFixed(1)),
      loadAverage: { before: loadBefore, after: load() },
    },
    null,
    1,
  ),
);
