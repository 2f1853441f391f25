// Why does caption → image miss the caption's colour? Runs on a checkpoint of grounded.bench.mjs
// (its --out folder) and separates the three places it can fail:
//   judging:  the pixel classifier on clean renders and on VQ reconstructions of the same images;
//   training: does the model condition the image codes on the caption at all? The codes of each true
//             image are scored (teacher-forced, nats) under its own caption, under the same caption
//             with each other colour word (and each other shape word), and with no caption; "rank"
//             is how often the own caption gives the codes the lowest loss, "first cell" the
//             probability the model puts on codes of the caption's colour at the first cell of the
//             shape, given the true codes before it (where a generated image picks its colour);
//   sampling: caption → image at each --guidance × --temperature, judged by the classifier and,
//             independently of it, by the colour of the first foreground code generated.
// Seen pairs (unseen images of pairs training showed) and held-out pairs are reported apart: a model
// that draws seen pairs right and held-out ones wrong fails at composing, not at following captions.
// Build first: npx nx run-many -t build -p grounded-shapes @laion/vq @laion/trainer-2b
// Run: node tools/bench/grounded-diagnose.mjs --run .bench/<grounded run> [--checkpoint dir] [--vq file]
//      [--images 32] [--gen-images 16] [--guidance 1,2,4] [--temperature 0.7] [--top-k 8]
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import {
  captionImages,
  documentMask,
  drawCaptions,
  loadForGeneration,
} from "../../packages/trainer-2b/dist/index.js";
import { loadVQ, selectBackend } from "../../packages/vq/dist/index.js";
import {
  COLOURS,
  caption,
  classifyImage,
  decodeImage,
  groundedSample,
  readAttributes,
  renderScene,
  SHAPES,
  TEMPLATE_COUNT,
} from "../grounded/dist/index.js";

const { values: flags } = parseArgs({
  options: {
    run: { type: "string" },
    checkpoint: { type: "string" },
    // default: the run's own VQ (a run given --vq has none in its folder: pass the same file here)
    vq: { type: "string" },
    images: { type: "string", default: "32" },
    "gen-images": { type: "string", default: "16" },
    "map-images": { type: "string", default: "400" },
    guidance: { type: "string", default: "1,2,4" },
    temperature: { type: "string", default: "0.7" },
    "top-k": { type: "string", default: "8" },
    seed: { type: "string", default: "0" },
    "train-images": { type: "string", default: "20000" },
    // off: only the judge, the likelihoods and image → caption (no caption → image sampling)
    sampling: { type: "boolean", default: true },
  },
});
if (!flags.run) throw new Error("--run <folder of a grounded.bench.mjs run> is required");
const seed = Number(flags.seed);
const langs = ["en", "si"];
const nImages = Number(flags.images);
const list = (s, name) => {
  const v = s.split(",").map(Number);
  if (!v.every(Number.isFinite)) throw new Error(`--${name} must be numbers separated by commas, got "${s}"`);
  return v;
};
const guidances = list(flags.guidance, "guidance");
const temperatures = list(flags.temperature, "temperature");
const checkpoint = flags.checkpoint ?? lastCheckpoint(path.join(flags.run, "model", "checkpoints"));
const say = (m) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${m}`);

function lastCheckpoint(dir) {
  const steps = fs.existsSync(dir) ? fs.readdirSync(dir).filter((d) => /^step-\d+$/.test(d)) : [];
  if (!steps.length) throw new Error(`${dir}: no step-* checkpoint; pass --checkpoint`);
  return path.join(dir, steps.sort().at(-1));
}

const { tf } = await selectBackend({ prefer: "wasm" });
const vq = await loadVQ(flags.vq ?? path.join(flags.run, "vq", "visual_vq.pt"));
const g = await loadForGeneration({ tf, checkpoint, vq });
const { model, tokenizer, vocab } = g;
const side = Math.round(Math.sqrt(vq.tokensPerImage));
say(`checkpoint ${checkpoint} (step ${g.step}), ${vq.tokensPerImage} codes per image`);

/** An image's foreground share per code cell (pixels that differ from the background by > 40). */
async function cellsOf(png) {
  const img = await decodeImage(png);
  const cell = img.width / side;
  const bg = [0, 1, 2].map((k) => img.data[k]); // the corner pixel is always background
  const share = new Float32Array(side * side);
  for (let y = 0; y < img.height; y++)
    for (let x = 0; x < img.width; x++) {
      const i = (y * img.width + x) * img.channels;
      const d = Math.max(...[0, 1, 2].map((k) => Math.abs(img.data[i + k] - bg[k])));
      if (d > 40) share[Math.floor(y / cell) * side + Math.floor(x / cell)] += 1 / (cell * cell);
    }
  return share;
}

/** Samples with their png, codes, foreground cells and the template their caption used. */
async function prepare(split, from, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const s = groundedSample({ seed, split, langs }, from + i);
    const png = await renderScene(s.scene);
    const template = [...Array(TEMPLATE_COUNT).keys()].find((t) => caption(s.scene, s.lang, t) === s.caption);
    out.push({ ...s, png, template, cells: await cellsOf(png) });
  }
  const codes = await vq.encodeImageBytes(out.map((x) => x.png));
  out.forEach((x, i) => {
    x.codes = codes[i];
  });
  return out;
}

// Which colour each code draws: the majority colour of the training images whose foreground covers
// at least a fifth of the code's cell; codes never seen on a shape are background ("bg").
say(`code colour map from ${flags["map-images"]} training images`);
const mapSet = await prepare("train", 0, Number(flags["map-images"]));
const votes = new Map();
for (const s of mapSet)
  for (let k = 0; k < s.codes.length; k++) {
    if (s.cells[k] < 0.2) continue;
    const v = votes.get(s.codes[k]) ?? {};
    v[s.scene.colour] = (v[s.scene.colour] ?? 0) + 1;
    votes.set(s.codes[k], v);
  }
const codeColour = (c) => {
  const v = votes.get(c);
  return v ? Object.entries(v).sort((a, b) => b[1] - a[1])[0][0] : "bg";
};

const sets = {
  held_out: await prepare("heldout", 0, nImages),
  // training-split indices past the shards: pairs training showed, images it did not
  seen_pairs: await prepare("train", Number(flags["train-images"]), nImages),
};

/** Per-code losses (nats) of `codes` after `prefix`, for several prefixes of one length in one batch. */
function codeLosses(prefixes, codes) {
  const T = prefixes[0].length + codes.length - 1;
  const B = prefixes.length;
  const ids = new Int32Array(B * T);
  prefixes.forEach((p, b) => {
    const row = [...p, ...codes.slice(0, -1)];
    ids.set(row, b * T);
  });
  const logp = tf.tidy(() => {
    const logits = model.forward(
      tf.tensor2d(ids, [B, T], "int32"),
      documentMask(tf, new Int32Array(B * T), B, T),
      model.cells(ids, B, T),
    );
    return tf.logSoftmax(tf.slice(logits, [0, prefixes[0].length - 1, 0], [B, codes.length, -1]));
  });
  const lp = logp.dataSync();
  logp.dispose();
  const V = vocab.size;
  return prefixes.map((_, b) => Array.from(codes, (c, k) => -lp[(b * codes.length + k) * V + c]));
}

/** Probability mass per colour (by codeColour) of the next code at cell k after the true codes. */
function colourMass(prefix, codes, k) {
  const T = prefix.length + k;
  const ids = Int32Array.from([...prefix, ...codes.slice(0, k)]);
  const p = tf.tidy(() => {
    const logits = model.forward(
      tf.tensor2d(ids, [1, T], "int32"),
      documentMask(tf, new Int32Array(T), 1, T),
      model.cells(ids, 1, T),
    );
    return tf.softmax(tf.slice(logits, [0, T - 1, vocab.imageOffset], [1, 1, vocab.codebookSize]));
  });
  const probs = p.dataSync();
  p.dispose();
  const mass = {};
  for (let c = 0; c < probs.length; c++) mass[codeColour(c)] = (mass[codeColour(c)] ?? 0) + probs[c];
  return mass;
}

const textIds = (t) => [1, ...tokenizer.encode(t.normalize("NFC")).map((x) => x + vocab.textOffset), 3]; // <bos> … <boi>
const sum = (a) => a.reduce((x, y) => x + y, 0);
const mean = (a) => (a.length ? sum(a) / a.length : 0);
const r3 = (x) => Number(x.toFixed(3));

function likelihood(set) {
  const rows = [];
  for (const s of set) {
    const codes = Array.from(s.codes, (c) => c + vocab.imageOffset);
    const fg = Array.from(s.cells, (x) => x > 0);
    const variant = (change) => textIds(caption({ ...s.scene, ...change }, s.lang, s.template));
    const colourPrefixes = COLOURS.map((c) => variant({ colour: c.id }));
    const shapePrefixes = SHAPES.map((x) => variant({ shape: x.id }));
    const byColour = codeLosses(colourPrefixes, codes);
    const byShape = codeLosses(shapePrefixes, codes);
    const [uncond] = codeLosses([[1, 3]], codes);
    const own = byColour[COLOURS.findIndex((c) => c.id === s.scene.colour)];
    const total = byColour.map(sum);
    const others = total.filter((_, i) => COLOURS[i].id !== s.scene.colour);
    const fgGap = mean(
      byColour
        .filter((_, i) => COLOURS[i].id !== s.scene.colour)
        .map((l) => sum(l.filter((_, k) => fg[k])) - sum(own.filter((_, k) => fg[k]))),
    );
    const first = fg.indexOf(true);
    const mOwn = colourMass(textIds(s.caption), codes, first);
    const mUncond = colourMass([1, 3], codes, first);
    rows.push({
      colourRank: Math.min(...others) > sum(own) ? 1 : 0,
      shapeRank:
        Math.min(...byShape.map(sum).filter((_, i) => SHAPES[i].id !== s.scene.shape)) >
        sum(byShape[SHAPES.findIndex((x) => x.id === s.scene.shape)])
          ? 1
          : 0,
      gapColour: mean(others) - sum(own),
      gapColourFg: fgGap,
      gapUncond: sum(uncond) - sum(own),
      own: sum(own),
      firstCell: first,
      firstOwn: mOwn[s.scene.colour] ?? 0,
      firstOwnBest:
        Object.entries(mOwn)
          .filter(([k]) => k !== "bg")
          .sort((a, b) => b[1] - a[1])[0]?.[0] === s.scene.colour
          ? 1
          : 0,
      firstUncond: mUncond[s.scene.colour] ?? 0,
      firstBg: mOwn.bg ?? 0,
    });
  }
  return {
    images: rows.length,
    colour_rank_acc: r3(mean(rows.map((r) => r.colourRank))),
    shape_rank_acc: r3(mean(rows.map((r) => r.shapeRank))),
    nats_per_image: r3(mean(rows.map((r) => r.own))),
    gap_other_colour_nats: r3(mean(rows.map((r) => r.gapColour))),
    gap_other_colour_on_shape_cells_nats: r3(mean(rows.map((r) => r.gapColourFg))),
    gap_no_caption_nats: r3(mean(rows.map((r) => r.gapUncond))),
    first_shape_cell: {
      p_caption_colour: r3(mean(rows.map((r) => r.firstOwn))),
      caption_colour_most_likely: r3(mean(rows.map((r) => r.firstOwnBest))),
      p_caption_colour_no_caption: r3(mean(rows.map((r) => r.firstUncond))),
      p_background: r3(mean(rows.map((r) => r.firstBg))),
    },
  };
}

async function judgeSet(set) {
  const acc = { renders: { colour: 0, shape: 0 }, reconstructions: { colour: 0, shape: 0 } };
  for (const s of set) {
    const a = await classifyImage(s.png);
    const b = await classifyImage(await vq.decodeToPng(s.codes));
    for (const k of ["colour", "shape"]) {
      acc.renders[k] += a[k] === s.scene[k] ? 1 / set.length : 0;
      acc.reconstructions[k] += b[k] === s.scene[k] ? 1 / set.length : 0;
    }
  }
  for (const v of Object.values(acc)) for (const k of Object.keys(v)) v[k] = r3(v[k]);
  return acc;
}

async function sampleSet(set, guidance, temperature) {
  const n = Math.min(set.length, Number(flags["gen-images"]));
  let judged = 0;
  let firstCode = 0;
  let shapes = 0;
  const seenColours = {};
  const drawn = await drawCaptions(
    { ...g, temperature, topK: Number(flags["top-k"]), guidance, seed },
    set.slice(0, n).map((s) => s.caption),
  );
  for (const [i, r] of drawn.entries()) {
    const s = set[i];
    const j = r.png ? await classifyImage(r.png) : {};
    judged += j.colour === s.scene.colour ? 1 : 0;
    shapes += j.shape === s.scene.shape ? 1 : 0;
    seenColours[j.colour ?? "none"] = (seenColours[j.colour ?? "none"] ?? 0) + 1;
    const fc = Array.from(r.codes)
      .map(codeColour)
      .find((c) => c !== "bg");
    firstCode += fc === s.scene.colour ? 1 : 0;
  }
  return {
    images: n,
    judged_colour: r3(judged / n),
    first_code_colour: r3(firstCode / n),
    judged_shape: r3(shapes / n),
    colours_drawn: seenColours,
  };
}

/** image → caption (greedy) on the same images: what the conditioning costs or buys the other way. */
async function captionSet(set) {
  const said = await captionImages(
    { ...g, temperature: 0, maxNewTokens: 14 },
    set.map((s) => s.codes),
  );
  const acc = { colour: 0, shape: 0, position: 0 };
  said.forEach(({ text }, i) => {
    const read = readAttributes(text);
    for (const k of Object.keys(acc)) acc[k] += read[k] === set[i].scene[k] ? 1 / set.length : 0;
  });
  for (const k of Object.keys(acc)) acc[k] = r3(acc[k]);
  return acc;
}

const report = { checkpoint, step: g.step, judge: {}, image2caption: {}, likelihood: {}, sampling: {} };
for (const [name, set] of Object.entries(sets)) {
  report.image2caption[name] = await captionSet(set);
  say(`${name} image → caption ${JSON.stringify(report.image2caption[name])}`);
  report.judge[name] = await judgeSet(set);
  say(`${name} judge ${JSON.stringify(report.judge[name])}`);
  report.likelihood[name] = likelihood(set);
  say(`${name} likelihood ${JSON.stringify(report.likelihood[name])}`);
}
if (flags.sampling)
  for (const guidance of guidances)
    for (const temperature of temperatures)
      for (const [name, set] of Object.entries(sets)) {
        const key = `${name} g${guidance} t${temperature}`;
        report.sampling[key] = await sampleSet(set, guidance, temperature);
        say(`${key}: ${JSON.stringify(report.sampling[key])}`);
      }
g.model.dispose();
console.log(JSON.stringify(report));
