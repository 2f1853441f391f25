// Throughput of the trainer-2b transformer on the wasm backend vs the wasm matmul peak measured
// in the same process: model FLOPs/s ≈ 6 · params · tokens/s (forward + backward, attention's
// T² term not counted, as in the usual MFU convention).
// Build first: (cd packages/vq && npx tsup) && (cd packages/trainer-2b && npx tsup)
// Run: node tools/bench/trainer.bench.mjs [preset=demo] [batch=8] [steps=6]
import { selectBackend } from "../../packages/vq/dist/index.js";
import {
  AdamW,
  Transformer,
  countParameters,
  presetModelConfig,
  trainStep,
} from "../../packages/trainer-2b/dist/index.js";

const [presetName = "demo", batchArg = "8", stepsArg = "6", backendArg = "wasm"] = process.argv.slice(2);
const { tf, name } = await selectBackend({ prefer: backendArg });

// Baseline: the best matmul rate of this backend (square fp32 matmuls, a few sizes).
function matmulPeak() {
  let best = { gflops: 0, n: 0 };
  for (const n of [256, 512, 768]) {
    const a = tf.randomNormal([n, n]);
    const b = tf.randomNormal([n, n]);
    tf.matMul(a, b).dataSync(); // warm-up
    const reps = n <= 256 ? 20 : 5;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) tf.tidy(() => tf.matMul(a, b).dataSync());
    const s = (performance.now() - t0) / 1000;
    const gflops = (2 * n ** 3 * reps) / s / 1e9;
    if (gflops > best.gflops) best = { gflops, n };
    tf.dispose([a, b]);
  }
  return best;
}

const peak = matmulPeak();
const cfg = { ...presetModelConfig(presetName, 5 + 768 + 512), seqLen: presetName === "demo" ? 96 : presetModelConfig(presetName).seqLen };
const B = Number(batchArg);
const T = cfg.seqLen;
const params = countParameters(cfg);
const model = new Transformer(tf, cfg, { seed: 0 });
const opt = new AdamW(tf, model.params, { weightDecay: 0.1 });
let s = 1;
const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) % (cfg.vocabSize - 5)) + 5;
const batch = {
  B,
  T,
  inputs: Int32Array.from({ length: B * T }, rnd),
  targets: Int32Array.from({ length: B * T }, rnd),
  docIds: new Int32Array(B * T).map((_, i) => Math.floor(i / 40)),
  lossMask: new Float32Array(B * T).fill(1),
  sourceIdx: new Int32Array(B * T),
  modality: new Uint8Array(B * T),
  sources: ["bench"],
};
const step = () => trainStep({ model, opt, micro: [batch], lr: 1e-3, gradClip: 1, lossWeights: { text: 1, image: 1 } });
step(); // warm-up (kernel set-up, JIT)
const steps = Number(stepsArg);
const t0 = performance.now();
for (let i = 0; i < steps; i++) step();
const sec = (performance.now() - t0) / 1000;
const tokensPerS = (B * T * steps) / sec;
const modelGflops = (6 * params * tokensPerS) / 1e9;
const attnGflops = (12 * cfg.nLayers * cfg.dModel * T * tokensPerS) / 1e9 / 2; // causal half of QKᵀ and AV, fwd+bwd
console.log(
  JSON.stringify(
    {
      backend: name,
      preset: presetName,
      params,
      batch: B,
      seqLen: T,
      sPerStep: Number((sec / steps).toFixed(3)),
      tokensPerS: Number(tokensPerS.toFixed(1)),
      modelGflopsPerS: Number(modelGflops.toFixed(3)),
      withAttentionGflopsPerS: Number((modelGflops + attnGflops).toFixed(3)),
      matmulPeakGflopsPerS: Number(peak.gflops.toFixed(2)),
      matmulPeakSize: peak.n,
      ratioModelToPeak: Number((modelGflops / peak.gflops).toFixed(3)),
    },
    null,
    1,
  ),
);
