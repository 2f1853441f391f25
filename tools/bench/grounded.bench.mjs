// Does it learn? Trains the VQ and the transformer on seeded synthetic captioned shapes
// (tools/grounded) within a CPU budget, then scores colour × shape pairs that never appeared in
// training:
//   image → caption: the attributes read from the greedy caption of each held-out image, against
//     chance and against the fixed-image baseline (the same training image's codes for every caption:
//     what the model says without looking);
//   caption → image: the attributes of the image generated from each held-out caption, judged by the
//     pixel classifier, whose own accuracy on VQ reconstructions of the true images is its ceiling.
// Checkpoints taken at `--points` places along the run give the curve (accuracy vs minutes and images
// seen). The last line is JSON with colour_acc, shape_acc, caption2image_colour_acc, … (see `summary`).
// Build first: npx nx run-many -t build -p grounded-shapes @laion/vq @laion/trainer-2b
// Run: node tools/bench/grounded.bench.mjs --minutes 20 [--vq-minutes 4] [--vq file] [--points 4]
//      [--out dir] [--seed 0] [--guidance 3,1,2,5] [--c2i-temperature 0.7] [--c2i-top-k 8] [key=value …]   (key=value overrides the trainer config, e.g. training.lr=0.002)
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  captionImages,
  drawCaptions,
  generate,
  lastCheckpointStep,
  loadForGeneration,
  parseConfig,
  renderReport,
  resolveShape,
  trainBpe,
  trainMultimodal,
  writeSamplesFile,
} from "../../packages/trainer-2b/dist/index.js";
import { loadVQ, selectBackend, trainVQ } from "../../packages/vq/dist/index.js";
import {
  COLOURS,
  classifyImage,
  groundedSample,
  MANIFEST_FORMAT,
  POSITIONS,
  readAttributes,
  renderScene,
  SHAPES,
  writeGroundedShards,
} from "../grounded/dist/index.js";
import { fail } from "./bench-inputs.mjs";
import { applyKeyValues } from "./config-overrides.mjs";
import { probeCodes } from "./grounded-probe.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    minutes: { type: "string", default: "20" },
    "vq-minutes": { type: "string" },
    vq: { type: "string" },
    "vq-preset": { type: "string", default: "64-f4-small" },
    "vq-config": { type: "string", default: "{}" },
    "vq-batch": { type: "string", default: "8" },
    "vq-lr": { type: "string" },
    "vq-only": { type: "boolean", default: false },
    "score-only": { type: "boolean", default: false },
    "vq-steps": { type: "string" },
    steps: { type: "string" },
    "vq-rate": { type: "string" },
    "train-rate": { type: "string" },
    points: { type: "string", default: "4" },
    "train-images": { type: "string", default: "20000" },
    // 256: each held-out pair × place × language 8 times, so ±4 points (95 %) at 88 %: 64 told 85 from 90 % only by luck
    "eval-images": { type: "string", default: "256" },
    "probe-images": { type: "string" },
    "c2i-images": { type: "string", default: "64" },
    "seen-images": { type: "string", default: "32" },
    // caption → image decoding: conditioning strengths (classifier-free guidance, 1 = off; the first
    // is the headline figure, the others are scored at the last point too), temperature, top-k
    guidance: { type: "string", default: "3,1,2,5" },
    "c2i-temperature": { type: "string", default: "0.7" },
    "c2i-top-k": { type: "string", default: "8" },
    langs: { type: "string", default: "en,si" },
    seed: { type: "string", default: "0" },
    out: { type: "string" },
  },
});
const minutes = Number(flags.minutes);
const guidances = flags.guidance.split(",").map(Number);
if (!guidances.every((g) => Number.isFinite(g) && g >= 0))
  throw new Error(`--guidance must be numbers >= 0 separated by commas, got "${flags.guidance}"`);
const seed = Number(flags.seed);
const langs = flags.langs.split(",");
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
const t0 = performance.now();
const elapsedMin = () => (performance.now() - t0) / 60000;
const say = (m) => console.error(`[${elapsedMin().toFixed(1)} min, load ${load()}] ${m}`);
const out =
  flags.out ?? path.join(root, ".bench", `grounded-${new Date().toISOString().replace(/[:.]/g, "-")}`);
fs.mkdirSync(out, { recursive: true });
const loads = [];
const loadTimer = setInterval(() => loads.push(os.loadavg()[0]), 10000);

// --- data: cached under .bench/grounded/ (a folder is only reused with the same parameters) ---
const nTrain = Number(flags["train-images"]);
const nEval = Number(flags["eval-images"]);
const dataRoot = path.join(root, ".bench", "grounded");
// The data format in the name: a generator change writes new folders instead of refusing the old ones.
const dataName = (split, n) => `${MANIFEST_FORMAT}-${split}-s${seed}-n${n}-${langs.join("")}`;
const trainDir = path.join(dataRoot, dataName("train", nTrain));
const evalDir = path.join(dataRoot, dataName("heldout", nEval));
await writeGroundedShards({ outDir: trainDir, split: "train", seed, count: nTrain, langs });
await writeGroundedShards({ outDir: evalDir, split: "heldout", seed, count: nEval, langs, shardSize: nEval });
say(`data: ${nTrain} training images in ${trainDir}, ${nEval} held-out in ${evalDir}`);

const { tf } = await selectBackend({ prefer: "wasm" });

// --- VQ: 64 px, f=4 → 16×16 = 256 codes by default. Interior patches of a shape are flat colour, so
// their codes name the colour whatever the shape; at f=8 the outline sat only in edge patches whose
// codes also name the colour, at f=4 the layout of the shape's cells carries it too. ---
const vqMinutes =
  flags["vq-minutes"] !== undefined ? Number(flags["vq-minutes"]) : flags.vq ? 0 : minutes * 0.2;
let vqFile = flags.vq;
let vqInfo = { minutes: 0, steps: 0, psnr: null };
if (!vqFile) {
  vqFile = path.join(out, "vq", "visual_vq.pt");
  const batch = Number(flags["vq-batch"]);
  // Steps for the budget at a rate measured on this machine (img/s); the cosine schedule ends there.
  const rate = Number(flags["vq-rate"] ?? 24);
  const maxSteps = flags["vq-steps"]
    ? Number(flags["vq-steps"])
    : Math.max(20, Math.round((vqMinutes * 60 * rate) / batch));
  // --vq-preset (64-f4-small: 16×16 codes, the grid that keeps a shape apart from its colour; see
  // docs/benchmarks.md), with --vq-config overrides.
  const config = JSON.parse(flags["vq-config"]);
  const tv = performance.now();
  const r = await trainVQ({
    out: vqFile,
    preset: flags["vq-preset"],
    config,
    laionTars: trainDir,
    maxSteps,
    batchSize: batch,
    ...(flags["vq-lr"] ? { lr: Number(flags["vq-lr"]) } : {}),
    // The generator already varies size, place and shade; crops would train on zoomed shapes the
    // eval never shows, and flips are harmless but useless.
    augment: { scale: [1, 1], flip: false },
    evalEvery: maxSteps,
    backend: "wasm",
    seed,
    // A safety stop past the budget (a loaded machine); with --vq-steps the steps decide.
    ...(flags["vq-steps"] ? {} : { signal: AbortSignal.timeout(Math.round(vqMinutes * 60000 * 1.5)) }),
    onEvent: (e) => {
      if (e.type === "step" && e.step % 50 === 0)
        say(`vq step ${e.step}/${maxSteps} loss ${e.loss.toFixed(4)} ${e.imagesPerSecond.toFixed(1)} img/s`);
      if (e.type === "eval")
        say(`vq eval: PSNR ${e.psnr.toFixed(2)} dB, usage ${(100 * e.usage).toFixed(0)} %`);
    },
  });
  vqInfo = {
    minutes: Number(((performance.now() - tv) / 60000).toFixed(2)),
    steps: r.steps,
    psnr: r.lastEval ? Number(r.lastEval.psnr.toFixed(2)) : null,
    imagesPerSecond: Number(r.imagesPerSecond.toFixed(1)),
    preset: flags["vq-preset"],
    config,
  };
}
const vq = await loadVQ(vqFile);
say(`VQ ${vqFile}: ${vq.tokensPerImage} codes per image, codebook ${vq.codebookSize}`);

// --- what the judge can see: held-out images, their codes, the classifier on their reconstructions ---
const heldOut = [];
for (let i = 0; i < nEval; i++) heldOut.push(groundedSample({ seed, split: "heldout", langs }, i));
const heldPngs = await Promise.all(heldOut.map((s) => renderScene(s.scene)));
const heldCodes = await vq.encodeImageBytes(heldPngs);
// The fixed image: one training image, the same for every caption.
const fixed = groundedSample({ seed, split: "train", langs }, 0);
const fixedCodes = (await vq.encodeImageBytes([await renderScene(fixed.scene)]))[0];
// The judge's ceiling: the classifier on VQ reconstructions of the true held-out images.
const judge = { colour: 0, shape: 0, position: 0 };
for (let i = 0; i < nEval; i++) {
  const j = await classifyImage(await vq.decodeToPng(heldCodes[i]));
  for (const a of Object.keys(judge)) judge[a] += j[a] === heldOut[i].scene[a] ? 1 : 0;
}
for (const a of Object.keys(judge)) judge[a] /= nEval;
say(`pixel classifier on VQ reconstructions of held-out images: ${JSON.stringify(judge)}`);

// Seen pairs, unseen images: training-split samples past the ones written to the shards, so no image
// was trained on but every colour × shape pair was. Tells "cannot read the attribute" from "cannot
// put a new pair into words".
const seen = Array.from({ length: Number(flags["seen-images"]) }, (_, i) =>
  groundedSample({ seed, split: "train", langs }, nTrain + i),
);
const seenCodes = await vq.encodeImageBytes(await Promise.all(seen.map((x) => renderScene(x.scene))));

// The linear probe on codes (grounded-probe.mjs): do the codes of a held-out pair carry its shape?
// Minutes on a loaded machine, counted in the budget: default on with --vq-only, off otherwise.
const nProbe = Math.min(nTrain, Number(flags["probe-images"] ?? (flags["vq-only"] ? 2000 : 0)));
let probe = null;
if (nProbe > 0) {
  const probeTrain = { codes: [], scenes: [] };
  for (let i = 0; i < nProbe; i += 100) {
    const batch = Array.from({ length: Math.min(100, nProbe - i) }, (_, j) =>
      groundedSample({ seed, split: "train", langs }, i + j),
    );
    const pngs = await Promise.all(batch.map((x) => renderScene(x.scene)));
    probeTrain.codes.push(...(await vq.encodeImageBytes(pngs)));
    probeTrain.scenes.push(...batch.map((x) => x.scene));
  }
  probe = probeCodes({
    codebook: vq.codebookSize,
    train: probeTrain,
    tests: {
      held_out: { codes: heldCodes, scenes: heldOut.map((x) => x.scene) },
      seen_pairs: { codes: seenCodes, scenes: seen.map((x) => x.scene) },
    },
    values: {
      colour: COLOURS.map((c) => c.id),
      shape: SHAPES.map((c) => c.id),
      position: POSITIONS.map((c) => c.id),
    },
  });
  say(`linear probe on codes (${nProbe} training images): ${JSON.stringify(probe)}`);
}

if (flags["vq-only"]) {
  console.log(
    JSON.stringify({
      vq: vqInfo,
      judge_on_vq_reconstructions: judge,
      probe_on_codes: probe,
      minutes: Number(elapsedMin().toFixed(2)),
      load: load(),
    }),
  );
  process.exit(0);
}

// --- tokenizer: BPE on training captions, sized so every attribute word is one token ---
const captions = Array.from(
  { length: 4000 },
  (_, i) => groundedSample({ seed, split: "train", langs }, i).caption,
);
const tokenizer = await trainBpe({ texts: captions, vocabSize: 512 });
const tokFile = path.join(out, "tokenizer.json");
tokenizer.save(tokFile);
// Sinhala shapes appear in their indefinite form (කවයක්), the form the captions use.
const attrWords = [...COLOURS, ...SHAPES, ...POSITIONS].flatMap((d) => [
  ` ${d.en}`,
  ` ${d.siIndefinite ?? d.si}`,
]);
const multiToken = attrWords.filter((w) => tokenizer.encode(w).length > 1);
const captionTokens = Math.max(...captions.map((c) => tokenizer.encode(c).length));
say(
  `tokenizer: ${tokenizer.size} text tokens, longest caption ${captionTokens} tokens, attribute words over one token: ${multiToken.length ? multiToken.join("|") : "none"}`,
);

// --- the transformer, on the grounded shards as its LAION source only ---
const raw = {
  output_dir: path.join(out, "model"),
  model: {
    preset: "demo",
    seq_len: 4 + vq.tokensPerImage + captionTokens + 2,
    tokenizer: tokFile,
    // model.image_embedding / image_positions stay at their defaults: neither codebook embeddings nor
    // grid cells read held-out shape better at equal steps (docs/benchmarks.md, session 6)
  },
  data: { held_out_fraction: 0.02 },
  training: {
    laion_path: trainDir,
    laion_prob: 1,
    text_only_prob: 0,
    image_text_ratio: 0.5,
    // An image is 256 codes and its caption ~11 tokens: at weight 1 the caption words (what image →
    // caption is scored on) are 4 % of the loss; 0.25 gives them the share they had at 8×8 (15 %).
    loss_weight_image: 0.25,
    // …but the codes drawn after a caption are all caption → image learns from, and at 0.25 the model
    // did not condition them on the caption at all (grounded-diagnose.mjs at step 240: another colour
    // word changed the true image's loss by 0.07 nats of 225, no caption at all by −0.2): weight 1.
    loss_weight_image_captioned: 1,
    batch_size: 16,
    lr: 0.003,
    min_lr: 0.0003,
    warmup: 20,
    vq_checkpoint: vqFile,
    backend: "wasm",
    shuffle_buffer: 1000,
    code_cache_size: nTrain,
    // the trainer's own report samples: captions no longer than the window has room for
    sample_max_tokens: captionTokens + 3,
    seed,
  },
};
applyKeyValues(raw, positionals);
// Steps for the remaining budget at this machine's rate now (steps/s), so the run ends inside its
// minutes; the schedule ends there. Until session 9 the rate was assumed (4,200 tokens/s) and quiet runs
// took 20.3–20.4 minutes to their last step. --train-rate sets it instead of measuring. --score-only
// trains nothing, so plans nothing: the config takes the earlier run's last checkpoint as its end.
const scoreOnly = flags["score-only"];
const stepRate = flags["train-rate"]
  ? Number(flags["train-rate"])
  : flags.steps || raw.training.max_steps || scoreOnly
    ? undefined
    : await measureStepRate();
const trainMinutes = Math.max(0.5, minutes - elapsedMin() - 0.05 * minutes);
const maxSteps = flags.steps
  ? Number(flags.steps)
  : scoreOnly
    ? (lastCheckpointStep(raw.output_dir) ??
      fail(`--score-only: no checkpoint in ${raw.output_dir} to score`))
    : (raw.training.max_steps ?? Math.max(20, Math.round(trainMinutes * 60 * stepRate)));
const points = Math.max(1, Number(flags.points));
raw.training.max_steps = maxSteps;
raw.training.eval_every = maxSteps;
raw.training.checkpoint_every = Math.max(1, Math.floor(maxSteps / points));
const cfg = parseConfig(raw, "grounded bench config");
if (!scoreOnly) fs.rmSync(cfg.output_dir, { recursive: true, force: true });
const ckRoot = path.join(cfg.output_dir, "checkpoints");
const curveDir = path.join(out, "curve");
fs.mkdirSync(curveDir, { recursive: true });
const snapshots = []; // { step, minutes, dir }
let tt = 0;
let trainWall = 0;
let result;
let stoppedAt = maxSteps;
class OverBudget extends Error {}
if (scoreOnly) {
  // Score the snapshots of an earlier run in --out (after changing the scoring); minutes unknown.
  const step = (d) => Number(d.slice("step-".length));
  for (const d of fs.readdirSync(curveDir).sort())
    snapshots.push({ step: step(d), minutes: null, dir: path.join(curveDir, d) });
  const last = fs
    .readdirSync(ckRoot)
    .filter((d) => /^step-\d+$/.test(d))
    .sort()
    .at(-1);
  if (last && !snapshots.some((x) => x.step === step(last)))
    snapshots.push({ step: step(last), minutes: null, dir: path.join(ckRoot, last) });
  stoppedAt = snapshots.at(-1).step;
} else {
  tt = performance.now();
  const stepMinutes = new Map();
  say(
    `training ${maxSteps} steps (${trainMinutes.toFixed(1)} min budget), checkpoint every ${cfg.training.checkpoint_every}`,
  );
  // Past 1.5× the budget (a loaded machine) training stops where it is; the snapshots so far are scored.
  const deadline = flags.steps ? Number.POSITIVE_INFINITY : tt + trainMinutes * 60000 * 1.5;
  try {
    result = await trainMultimodal({
      config: cfg,
      tf,
      backendName: "wasm",
      vq,
      log: () => {},
      onStep: (r, max) => {
        stepMinutes.set(r.step, (performance.now() - tt) / 60000);
        // The checkpoint of step s is written after onStep(s): keep a copy of it one step later.
        const prev = r.step - 1;
        if (prev > 0 && prev % cfg.training.checkpoint_every === 0) {
          const dir = path.join(ckRoot, `step-${String(prev).padStart(8, "0")}`);
          const keep = path.join(curveDir, path.basename(dir));
          fs.cpSync(dir, keep, { recursive: true });
          snapshots.push({ step: prev, minutes: stepMinutes.get(prev), dir: keep });
        }
        if (r.step % 25 === 0 || r.step === max)
          say(
            `step ${r.step}/${max} loss ${r.loss} (${JSON.stringify(r.loss_by_modality)}) ${r.tokens_per_s} tok/s`,
          );
        if (performance.now() > deadline && snapshots.length) {
          stoppedAt = r.step;
          throw new OverBudget(`over budget at step ${r.step}`);
        }
      },
    });
  } catch (err) {
    if (!(err instanceof OverBudget)) throw err;
    say(`${err.message}: scoring the checkpoints taken so far`);
  }
  trainWall = (performance.now() - tt) / 60000;
  if (stoppedAt === maxSteps && !snapshots.some((s) => s.step === maxSteps))
    snapshots.push({
      step: maxSteps,
      minutes: trainWall,
      dir: path.join(ckRoot, `step-${String(maxSteps).padStart(8, "0")}`),
    });
  say(`trained ${stoppedAt} of ${maxSteps} steps in ${trainWall.toFixed(1)} min`);
}

/**
 * The trainer's steps/s on this config here and now: PROBE_STEPS steps into a scratch folder, timed after
 * the first PROBE_UNCOUNTED (kernel set-up, tier-up). Every step encodes its images afresh (no image
 * repeats within a run), as in the run itself. About 20 s of the budget.
 */
async function measureStepRate() {
  const PROBE_STEPS = 10;
  const PROBE_UNCOUNTED = 4;
  const probe = parseConfig(
    {
      ...raw,
      output_dir: path.join(out, "rate-probe"),
      // stopped after PROBE_STEPS (below): no final eval, report or checkpoint is timed or written
      training: { ...raw.training, max_steps: 10 ** 6, eval_every: 10 ** 6, checkpoint_every: 10 ** 6 },
    },
    "grounded bench rate probe",
  );
  const at = [];
  class ProbeDone extends Error {}
  try {
    await trainMultimodal({
      config: probe,
      tf,
      backendName: "wasm",
      vq,
      log: () => {},
      onStep: (r) => {
        at[r.step] = performance.now();
        if (r.step === PROBE_STEPS) throw new ProbeDone();
      },
    });
  } catch (err) {
    if (!(err instanceof ProbeDone)) throw err;
  }
  fs.rmSync(probe.output_dir, { recursive: true, force: true });
  const rate = (PROBE_STEPS - PROBE_UNCOUNTED) / ((at[PROBE_STEPS] - at[PROBE_UNCOUNTED]) / 1000);
  const tokens = rate * raw.training.batch_size * raw.model.seq_len;
  say(
    `trainer rate here: ${rate.toFixed(3)} steps/s (${Math.round(tokens)} tokens/s, steps ${PROBE_UNCOUNTED + 1}–${PROBE_STEPS})`,
  );
  return rate;
}

const ATTRS = ["colour", "shape", "position"];
const acc = (rows, pick) => {
  const r = {};
  for (const a of ATTRS)
    r[a] = rows.reduce((n, x) => n + (pick(x)[a] === x.truth[a] ? 1 : 0), 0) / rows.length;
  return r;
};
const nC2I = Math.min(nEval, Number(flags["c2i-images"]));

/** Wilson score interval (95 %) of k successes in n: how far apart two runs' figures must be. */
function wilson(k, n) {
  const z = 1.96;
  const p = k / n;
  const mid = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / (1 + (z * z) / n);
  return [Number((mid - half).toFixed(3)), Number((mid + half).toFixed(3))];
}

/** Correct counts with their interval, and the accuracy per colour × shape pair (whole pairs move together). */
function counts(rows, pick) {
  const r = {};
  for (const a of ATTRS) {
    const k = rows.reduce((n, x) => n + (pick(x)[a] === x.truth[a] ? 1 : 0), 0);
    r[a] = { correct: k, of: rows.length, ci95: wilson(k, rows.length) };
  }
  const pairs = {};
  for (const x of rows) {
    const key = `${x.truth.colour} ${x.truth.shape}`;
    pairs[key] ??= { colour: 0, shape: 0, position: 0, n: 0 };
    const p = pairs[key];
    p.n++;
    for (const a of ATTRS) p[a] += pick(x)[a] === x.truth[a] ? 1 : 0;
  }
  r.by_pair = Object.fromEntries(
    Object.entries(pairs).map(([k, p]) => [
      k,
      Object.fromEntries(ATTRS.map((a) => [a, Number((p[a] / p.n).toFixed(3))])),
    ]),
  );
  return r;
}

/** An image for each of the first nC2I held-out captions, judged by the pixel classifier. */
async function captionToImage(gen, guidance, set = heldOut.slice(0, nC2I)) {
  // drawCaptions: caption i drawn with seed + i, as generate() would one by one, in batches
  const drawn = await drawCaptions(
    {
      ...gen,
      temperature: Number(flags["c2i-temperature"]),
      topK: Number(flags["c2i-top-k"]),
      guidance,
      seed,
    },
    set.map((x) => x.caption),
  );
  const out = [];
  for (const [i, r] of drawn.entries()) {
    const judged = r.png ? await classifyImage(r.png) : { colour: null, shape: null, position: null };
    out.push({ truth: set[i].scene, judged, png: r.png, caption: set[i].caption });
  }
  return out;
}

async function score(snapshot, withSamples) {
  const g = await loadForGeneration({ tf, checkpoint: snapshot.dir, vq });
  // A caption as long as the window has room for after the image (the longest training caption + 3):
  // longer ones are wrong anyway, and past the window each token would cost a whole forward pass.
  const maxNewTokens = cfg.model.seq_len - (vq.tokensPerImage + 3);
  const gen = { ...g, temperature: 0, seed, maxNewTokens };
  // Greedy: the fixed image's caption is the same for every held-out image. All captions of a set
  // are decoded in batches (captionImages: the same captions as one by one, a fraction of the time).
  const blind = readAttributes((await generate(gen, { kind: "image2caption", image: fixedCodes })).text);
  const rows = (await captionImages(gen, heldCodes)).map(({ text }, i) => ({
    truth: heldOut[i].scene,
    said: text,
    read: readAttributes(text),
    blind,
  }));
  const seenRows = (await captionImages(gen, seenCodes)).map(({ text }, i) => ({
    truth: seen[i].scene,
    read: readAttributes(text),
  }));
  const c2i = await captionToImage(gen, guidances[0]);
  // The other conditioning strengths, at the last point only (each costs a caption → image pass).
  const byGuidance = { [guidances[0]]: acc(c2i, (x) => x.judged) };
  let c2iSeen = null;
  if (withSamples) {
    for (const gs of guidances.slice(1)) byGuidance[gs] = acc(await captionToImage(gen, gs), (x) => x.judged);
    // Captions of pairs training showed (unseen images): drawing those right and held-out ones wrong
    // is a failure to compose a new pair, not to follow the caption.
    c2iSeen = acc(await captionToImage(gen, guidances[0], seen), (x) => x.judged);
  }
  g.model.dispose();
  const res = {
    step: snapshot.step,
    minutes: snapshot.minutes === null ? null : Number((vqInfo.minutes + snapshot.minutes).toFixed(2)),
    images_seen: snapshot.step * cfg.training.batch_size,
    image2caption: acc(rows, (x) => x.read),
    image2caption_counts: counts(rows, (x) => x.read),
    caption2image_counts: counts(c2i, (x) => x.judged),
    seen_pairs: acc(seenRows, (x) => x.read),
    fixed_image: acc(rows, (x) => x.blind),
    caption2image: byGuidance[guidances[0]],
    caption2image_by_guidance: byGuidance,
    caption2image_seen_pairs: c2iSeen,
  };
  if (withSamples) res.samples = { rows, c2i };
  return res;
}

const curve = [];
for (const [k, s] of snapshots.entries()) {
  const r = await score(s, k === snapshots.length - 1);
  curve.push(r);
  say(
    `step ${r.step} (${r.minutes} min, ${r.images_seen} images): image→caption ${JSON.stringify(r.image2caption)} by pair ${JSON.stringify(r.image2caption_counts.by_pair)} seen pairs ${JSON.stringify(r.seen_pairs)} fixed image ${JSON.stringify(r.fixed_image)} caption→image ${JSON.stringify(r.caption2image)}`,
  );
}
const final = curve.at(-1);

// report.html: the training curves plus the benchmark's samples (held-out pairs only).
const samples = [];
for (const [i, row] of final.samples.rows.slice(0, 16).entries())
  samples.push({
    kind: "image2caption",
    prompt: `held out (true: ${heldOut[i].caption})`,
    output: row.said,
    png: heldPngs[i],
  });
for (const c of final.samples.c2i.slice(0, 16))
  samples.push({
    kind: "caption2image",
    prompt: `held out: ${c.caption}`,
    output: `judged ${c.judged.colour} ${c.judged.shape} ${c.judged.position}`,
    png: c.png,
  });
const metrics = fs
  .readFileSync(path.join(cfg.output_dir, "metrics.jsonl"), "utf8")
  .split("\n")
  .filter(Boolean)
  .map((l) => JSON.parse(l));
fs.writeFileSync(
  path.join(out, "report.html"),
  await renderReport({
    title: "grounded benchmark: held-out colour × shape pairs",
    metrics,
    samples,
    plan: result?.plan.text ?? "",
  }),
);
// samples.json: the same samples for other reports (training.report_samples, e.g. the demo's).
const commit = (() => {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
})();
const pct = (x) => `${Math.round(100 * x)} %`;
writeSamplesFile(path.join(out, "samples.json"), {
  title: "grounded benchmark (tools/bench/grounded.bench.mjs), held-out colour × shape pairs",
  note: `commit ${commit}, ${new Date().toISOString().slice(0, 10)}, step ${final.step} (${final.images_seen} images seen, ${elapsedMin().toFixed(1)} min at load ${load()}): image → caption colour ${pct(final.image2caption.colour)}, shape ${pct(final.image2caption.shape)}, place ${pct(final.image2caption.position)}; caption → image colour ${pct(final.caption2image.colour)}`,
  // four of each kind: the four held-out pairs, once each (the held-out split cycles through them)
  samples: [
    ...samples.filter((s) => s.kind === "image2caption").slice(0, 4),
    ...samples.filter((s) => s.kind === "caption2image").slice(0, 4),
  ],
});
for (const row of final.samples.rows.slice(0, 8))
  console.error(
    `  image→caption: "${row.said}"  (true: ${row.truth.colour} ${row.truth.shape} ${row.truth.position})`,
  );
clearInterval(loadTimer);
delete final.samples;
const round = (x) => Number(x.toFixed(3));
const summary = {
  colour_acc: round(final.image2caption.colour),
  shape_acc: round(final.image2caption.shape),
  position_acc: round(final.image2caption.position),
  chance: {
    colour: round(1 / COLOURS.length),
    shape: round(1 / SHAPES.length),
    position: round(1 / POSITIONS.length),
  },
  fixed_image: Object.fromEntries(ATTRS.map((a) => [a, round(final.fixed_image[a])])),
  seen_pairs: Object.fromEntries(ATTRS.map((a) => [a, round(final.seen_pairs[a])])),
  held_out_counts: final.image2caption_counts,
  caption2image_counts: final.caption2image_counts,
  caption2image_colour_acc: round(final.caption2image.colour),
  caption2image_shape_acc: round(final.caption2image.shape),
  caption2image_position_acc: round(final.caption2image.position),
  caption2image_seen_pairs: Object.fromEntries(
    ATTRS.map((a) => [a, round(final.caption2image_seen_pairs[a])]),
  ),
  caption2image_colour_by_guidance: Object.fromEntries(
    Object.entries(final.caption2image_by_guidance).map(([g, a]) => [g, round(a.colour)]),
  ),
  caption2image_decoding: {
    guidance: guidances[0],
    temperature: Number(flags["c2i-temperature"]),
    top_k: Number(flags["c2i-top-k"]),
  },
  judge_on_vq_reconstructions: Object.fromEntries(ATTRS.map((a) => [a, round(judge[a])])),
  probe_on_codes: probe,
  minutes: Number(elapsedMin().toFixed(2)),
  vq: vqInfo,
  train: {
    steps: final.step,
    // unknown when scoring an earlier run without its --steps
    planned_steps: scoreOnly && !flags.steps ? null : maxSteps,
    minutes: Number(trainWall.toFixed(2)),
    images_seen: final.images_seen,
    seq_len: cfg.model.seq_len,
    d_model: resolveShape(cfg).dModel,
    layers: resolveShape(cfg).nLayers,
    batch: cfg.training.batch_size,
    lr: cfg.training.lr,
    loss_weight_image: cfg.training.loss_weight_image,
    loss_weight_image_captioned: cfg.training.loss_weight_image_captioned ?? null,
  },
  curve: curve.map((c) => ({
    step: c.step,
    minutes: c.minutes,
    images_seen: c.images_seen,
    colour: round(c.image2caption.colour),
    shape: round(c.image2caption.shape),
    position: round(c.image2caption.position),
    seen_colour: round(c.seen_pairs.colour),
    seen_shape: round(c.seen_pairs.shape),
    c2i_colour: round(c.caption2image.colour),
    c2i_shape: round(c.caption2image.shape),
  })),
  held_out_images: nEval,
  caption2image_images: nC2I,
  load_avg_1m: { mean: round(loads.reduce((a, b) => a + b, 0) / Math.max(1, loads.length)), end: load() },
  report: path.join(out, "report.html"),
};
console.log(JSON.stringify(summary));
