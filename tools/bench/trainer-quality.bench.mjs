// Does the demo preset learn within its budget? Trains configs/demo.yaml (wasm) on the Sinhala corpus +
// the captioned photos in fixtures/explicit_media and prints, per source, the held-out loss next to a
// unigram baseline (the per-source token frequencies of everything the model trained on, add-½
// smoothed), then the image→caption check: caption loss on held-out photos when the model sees the true
// image vs a *fixed* image (the same other photo's codes for every caption). The fixed-image loss is the
// fixed-caption baseline: the best the model can do by predicting the caption distribution it learnt
// without using the image. Both are measured on the same checkpoint, tokens and positions.
// Build first: (cd packages/vq && npx tsup) && (cd packages/trainer-2b && npx tsup)
// Run: node tools/bench/trainer-quality.bench.mjs [--steps N] [--vq path] [--vq-steps 60] [--out dir] [key=value …]
//   key=value overrides configs/demo.yaml (model.d_model=96, training.lr=0.004, …) for tuning.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { isHeldOut } from "../../packages/mixer/dist/index.js";
import { LocalCaptionedImages } from "../../packages/shards/dist/index.js";
import {
  buildDoc,
  documentMask,
  EOI,
  loadCheckpoint,
  loadConfig,
  makeVocab,
  parseConfig,
  Tokenizer,
  Transformer,
  trainMultimodal,
} from "../../packages/trainer-2b/dist/index.js";
import { loadVQ, selectBackend, trainVQ } from "../../packages/vq/dist/index.js";
import { applyKeyValues } from "./config-overrides.mjs";
import { matmulRate, transformerMatmuls } from "./matmul-rate.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    steps: { type: "string" },
    vq: { type: "string" },
    "vq-steps": { type: "string", default: "60" },
    out: { type: "string" },
  },
});
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");

// The config: demo.yaml with fixture paths made absolute, plus key=value overrides.
const raw = structuredClone(loadConfig(path.join(root, "configs/demo.yaml")));
raw.data.corpus = [path.join(root, "fixtures/sinhala/corpus.txt")];
raw.data.captions = path.join(root, "fixtures/explicit_media/captions.json");
raw.data.image_root = path.join(root, "fixtures/explicit_media");
raw.training.backend = "wasm";
applyKeyValues(raw, positionals);

if (flags.steps) raw.training.max_steps = Number(flags.steps);
const out = flags.out ?? fs.mkdtempSync(path.join(os.tmpdir(), "trainer-quality-"));
raw.output_dir = path.join(out, "model");
// One eval at the end unless asked (each eval also generates report samples, which costs time).
if (!positionals.some((kv) => kv.startsWith("training.eval_every=")))
  raw.training.eval_every = raw.training.max_steps;
raw.training.checkpoint_every = raw.training.max_steps;

const { tf } = await selectBackend({ prefer: "wasm" });

// A VQ: given, or trained briefly on the same photos (the demo app trains its own first) and kept in
// the OS temp folder for the next run. The photos are fed through `samples` (repeated)
// with two of them as eval images: trainVQ's own captions path holds out too many of 14 photos.
let vqFile = flags.vq;
if (!vqFile) {
  vqFile = path.join(os.tmpdir(), `trainer-quality-vq-${flags["vq-steps"]}`, "visual_vq.pt");
  if (!fs.existsSync(vqFile)) {
    const opts = { captions: raw.data.captions, imageRoot: raw.data.image_root };
    const imgs = [];
    for await (const s of LocalCaptionedImages(opts)) imgs.push(s.jpg ?? s.jpeg ?? s.png ?? s.webp);
    async function* samples() {
      for (let r = 0; r < 1000; r++)
        for await (const s of LocalCaptionedImages(opts)) yield { ...s, __key__: `${r}/${s.__key__}` };
    }
    const t0 = performance.now();
    const r = await trainVQ({
      out: vqFile,
      preset: "demo",
      samples,
      evalImages: imgs.slice(0, 2),
      maxSteps: Number(flags["vq-steps"]),
      batchSize: 8,
      backend: "wasm",
    });
    console.error(`VQ: ${r.steps} steps in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
}
raw.training.vq_checkpoint = vqFile;
const cfg = parseConfig(raw, "bench config");
const vq = await loadVQ(vqFile);

console.error(`load average before training: ${load()}`);
const t0 = performance.now();
const loadsDuring = [];
const result = await trainMultimodal({
  config: cfg,
  tf,
  backendName: "wasm",
  vq,
  log: () => {},
  onStep: (r, max) => {
    if (r.step % 10 === 0 || r.step === max) {
      loadsDuring.push(os.loadavg()[0]);
      console.error(`step ${r.step}/${max} loss ${r.loss} ${r.tokens_per_s} tok/s (load ${load()})`);
    }
  },
});
const wall = (performance.now() - t0) / 1000;
const trainRecs = result.records.filter((r) => r.type === "train");
const evalRec = result.records.filter((r) => r.type === "eval").at(-1);
const tokS = trainRecs.slice(1).reduce((s, r) => s + r.tokens_per_s, 0) / Math.max(1, trainRecs.length - 1);

// Throughput of the training loop itself (data pipeline included) vs the wasm matmul rate on the
// model's shapes, measured right after it in this process (matmul-rate.mjs).
const mc = result.plan.model;
const Nt = cfg.training.batch_size * mc.seqLen;
const mmRates = Object.values(transformerMatmuls(mc, Nt)).map(([m, k, n]) => matmulRate(tf, m, k, n));
const peak = Math.max(...mmRates);
const gflops = (6 * result.plan.memory.params * tokS + 12 * mc.nLayers * mc.seqLen * mc.dModel * tokS) / 1e9;

// Image → caption: caption-token loss with the true image vs one fixed other image, held-out photos.
const ck = loadCheckpoint(tf, cfg.output_dir, false);
const model = new Transformer(tf, ck.state.model, { weights: ck.weights });
const tokenizer = Tokenizer.load(path.join(cfg.output_dir, "tokenizer.json"));
const vocab = makeVocab(ck.state.vocab);
const photos = [];
for await (const s of LocalCaptionedImages({ captions: cfg.data.captions, imageRoot: cfg.data.image_root })) {
  const bytes = s.jpg ?? s.jpeg ?? s.png ?? s.webp;
  const codes = (await vq.encodeImageBytes([bytes]))[0];
  photos.push({
    key: s.__key__,
    caption: typeof s.txt === "string" ? s.txt : new TextDecoder().decode(s.txt),
    codes,
    heldOut: isHeldOut(s.__key__, cfg.data.held_out_fraction, "local"),
  });
}
function captionLoss(caption, codes) {
  const doc = buildDoc({ vocab, tokenizer, source: "local", text: caption, codes, direction: "image2text" });
  const toks = doc.tokens;
  const T = toks.length - 1;
  const start = toks.indexOf(EOI); // targets after <eoi>: the caption and its <eos>
  return tf.tidy(() => {
    const inputs = tf.tensor2d(toks.slice(0, T), [1, T], "int32");
    const targets = tf.tensor2d(toks.slice(1), [1, T], "int32");
    const ce = model.tokenLoss(model.forward(inputs, documentMask(tf, new Int32Array(T), 1, T)), targets);
    const v = ce.dataSync();
    let sum = 0;
    for (let i = start; i < T; i++) sum += v[i];
    return { sum, n: T - start };
  });
}
function compare(set) {
  const acc = { truth: [0, 0], fixed: [0, 0] };
  for (const p of set) {
    // The fixed image: a training photo with a different caption (same one for every caption).
    const other = photos.find(
      (q) => !q.heldOut && q.caption.split(" (")[0] !== p.caption.split(" (")[0] && q !== p,
    );
    const a = captionLoss(p.caption, p.codes);
    const b = captionLoss(p.caption, other.codes);
    acc.truth[0] += a.sum;
    acc.truth[1] += a.n;
    acc.fixed[0] += b.sum;
    acc.fixed[1] += b.n;
  }
  return {
    trueImage: acc.truth[0] / acc.truth[1],
    fixedImage: acc.fixed[0] / acc.fixed[1],
    tokens: acc.truth[1],
  };
}
const held = photos.filter((p) => p.heldOut);
const r4 = (x) => Number(x.toFixed(4));
const pct = (m, b) => `${(100 * (1 - m / b)).toFixed(1)} % below`;
const heldCmp = held.length ? compare(held) : null;
const trainCmp = compare(photos.filter((p) => !p.heldOut));
const report = {
  config: {
    d_model: ck.state.model.dModel,
    layers: ck.state.model.nLayers,
    heads: ck.state.model.nHeads,
    d_ff: ck.state.model.dFF,
    seq_len: ck.state.model.seqLen,
    vocab: ck.state.model.vocabSize,
    text_vocab: vocab.textSize,
    codes: vocab.codebookSize,
    batch: cfg.training.batch_size,
    steps: cfg.training.max_steps,
    lr: cfg.training.lr,
    warmup: cfg.training.warmup,
  },
  wallSeconds: Number(wall.toFixed(1)),
  tokensPerS: Number(tokS.toFixed(1)),
  modelGflopsPerS_withAttention: Number(gflops.toFixed(2)),
  matmulPeakGflopsPerS: Number(peak.toFixed(2)),
  pctOfPeak: Number(((100 * gflops) / peak).toFixed(1)),
  loadAverage1mDuring: loadsDuring.length
    ? Number((loadsDuring.reduce((a, b) => a + b, 0) / loadsDuring.length).toFixed(2))
    : null,
  heldOut: Object.fromEntries(
    Object.entries(evalRec?.loss_by_source ?? {}).map(([k, v]) => [
      k,
      { model: v, unigram: evalRec.baseline_by_source[k], vsUnigram: pct(v, evalRec.baseline_by_source[k]) },
    ]),
  ),
  imageToCaption: {
    heldOutPhotos: held.map((p) => p.key),
    heldOut: heldCmp && {
      ...Object.fromEntries(Object.entries(heldCmp).map(([k, v]) => [k, r4(v)])),
      vsFixed: pct(heldCmp.trueImage, heldCmp.fixedImage),
    },
    trainingPhotos: {
      ...Object.fromEntries(Object.entries(trainCmp).map(([k, v]) => [k, r4(v)])),
      vsFixed: pct(trainCmp.trueImage, trainCmp.fixedImage),
    },
  },
  evalCurve: result.records
    .filter((r) => r.type === "eval")
    .map((r) => ({ step: r.step, ...r.loss_by_source, byModality: r.loss_by_modality })),
  loadAverageAfter: load(),
};
console.log(JSON.stringify(report, null, 1));
model.dispose();
