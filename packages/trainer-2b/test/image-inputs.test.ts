// Image codes read through the VQ codebook (tied input/output embeddings) and placed on their grid
// cell (model.image_embedding: codebook, model.image_positions: grid): shapes, the explicit
// computation, gradients, cached decoding.
import { Random } from "@laion/mixer";
import { expect, test } from "vitest";
import {
  documentMask,
  imageCells,
  KVCache,
  type ModelConfig,
  standardCodebook,
  Transformer,
} from "../src/model.js";
import { AdamW } from "../src/optim.js";
import type { Batch } from "../src/sequences.js";
import { trainStep } from "../src/train-step.js";
import { BOI, BOS, EOI, EOS } from "../src/vocab.js";
import { cpuTf, tinyModel } from "./helpers.js";

// 5 specials, text ids 5…12, 12 codes at 13…24 on a 3 × 3 grid, 2 more ids after the codes.
const image = { offset: 13, size: 12, codebookDim: 4, side: 3 };
const cfg: ModelConfig = { ...tinyModel(27), seqLen: 16, image };
const codebook = Float32Array.from(new Random(9).normals(12 * 4, 1));
codebook.set(codebook.subarray(0, 4), 4); // codes 0 and 1 share a codebook vector
const code = (c: number) => image.offset + c;

test("imageCells: a code's cell is its index after <boi>; codes cut from their <boi> count back from <eoi>", () => {
  const T = 8;
  const rows = [
    [BOS, 6, BOI, code(4), code(0), code(7), EOI, EOS], // cells 1, 2, 3 (+1)
    [code(1), code(2), EOI, BOS, BOI, code(3), code(3), 7], // the window starts at the image's last two cells
    [code(5), code(6), 8, code(2), BOI, code(9), EOI, EOS], // no <boi>/<eoi> around the first codes: unknown
  ];
  const cells = imageCells(rows.flat(), 3, T, image);
  expect(Array.from(cells.subarray(0, T))).toEqual([0, 0, 0, 1, 2, 3, 0, 0]);
  expect(Array.from(cells.subarray(T, 2 * T))).toEqual([8, 9, 0, 0, 0, 1, 2, 0]);
  expect(Array.from(cells.subarray(2 * T))).toEqual([0, 0, 0, 0, 0, 1, 0, 0]);
});

test("codebook embeddings: new parameters, the codebook standardised and frozen, code rows of wte start at 0", async () => {
  const tf = await cpuTf();
  const model = new Transformer(tf, cfg, { seed: 1, codebook });
  expect(model.p("img.codebook").shape).toEqual([12, 4]);
  expect(model.p("img.proj").shape).toEqual([4, 16]);
  expect(model.p("img.row").shape).toEqual([3, 16]);
  expect(model.p("img.col").shape).toEqual([3, 16]);
  expect(model.p("img.codebook").trainable).toBe(false);
  expect(Array.from(model.p("img.codebook").dataSync())).toEqual(Array.from(standardCodebook(codebook, 4)));
  const wte = model.p("wte").arraySync() as number[][];
  expect(
    wte
      .slice(13, 25)
      .flat()
      .every((v) => v === 0),
  ).toBe(true);
  expect(
    wte
      .slice(0, 13)
      .flat()
      .some((v) => v !== 0),
  ).toBe(true);
  // codes with the same codebook vector start with the same embedding; others do not
  const emb = model.embeddings().arraySync() as number[][];
  expect(emb[code(1)]).toEqual(emb[code(0)]);
  expect(emb[code(2)]).not.toEqual(emb[code(0)]);
  expect(() => new Transformer(tf, cfg, { seed: 1 })).toThrow(/needs the VQ's codebook of \[12,4\]/);
  model.dispose();
});

test("standardCodebook: centred, mean row norm 1", () => {
  const s = standardCodebook(Float32Array.from([3, 1, 5, 1, 4, 4]), 2);
  const rows = [s.subarray(0, 2), s.subarray(2, 4), s.subarray(4, 6)];
  expect(rows.reduce((a, r) => a + r[0]!, 0)).toBeCloseTo(0, 6);
  expect(rows.reduce((a, r) => a + r[1]!, 0)).toBeCloseTo(0, 6);
  expect(rows.reduce((a, r) => a + Math.hypot(r[0]!, r[1]!), 0) / 3).toBeCloseTo(1, 6);
});

/** A sequence with an image: text, <boi>, 9 codes (one per cell), <eoi>. */
const seq = [BOS, 6, 9, BOI, ...[3, 0, 1, 11, 5, 5, 2, 8, 7].map(code), EOI, EOS, 7];

test("tied logits equal the explicit computation: a plain-table model whose wte is the codebook model's embeddings", async () => {
  const tf = await cpuTf();
  const model = new Transformer(tf, { ...cfg, image: { ...image, side: 0 } }, { seed: 2, codebook });
  // train a step first so the residual rows and the projection are not at their initial values
  const opt = new AdamW(tf, model.params, { weightDecay: 0.1 });
  await stepOn(model, opt, 1e-2);
  const weights: Record<string, ReturnType<typeof tf.tensor>> = {};
  for (const [name, v] of model.params) if (!name.startsWith("img.")) weights[name] = v;
  weights["wte"] = model.embeddings();
  const plain = new Transformer(tf, { ...cfg, image: undefined }, { weights });
  const T = seq.length;
  const x = tf.tensor2d(Int32Array.from(seq), [1, T], "int32");
  const mask = documentMask(tf, new Int32Array(T), 1, T);
  const a = model.forward(x, mask).dataSync();
  const b = plain.forward(x, mask).dataSync();
  expect(Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)))).toBeLessThan(1e-5);
  model.dispose();
  plain.dispose();
  opt.dispose();
});

/** One optimizer step on `seq`, text and image targets weighted alike. */
const stepOn = (model: Transformer, opt: AdamW, lr: number) =>
  trainStep({ model, opt, micro: [batchOf(seq)], lr, gradClip: 1, lossWeights: { text: 1, image: 1 } });

function batchOf(tokens: number[]): Batch {
  const T = tokens.length - 1;
  const inputs = Int32Array.from(tokens.slice(0, T));
  const targets = Int32Array.from(tokens.slice(1));
  return {
    B: 1,
    T,
    inputs,
    targets,
    docIds: new Int32Array(T),
    lossMask: new Float32Array(T).fill(1),
    sourceIdx: new Int32Array(T),
    modality: Uint8Array.from(targets, (t) => (t >= image.offset && t < image.offset + image.size ? 1 : 0)),
    sources: ["laion"],
  };
}

test("a training step reaches the projection and the cell embeddings, never the codebook", async () => {
  const tf = await cpuTf();
  const model = new Transformer(tf, cfg, { seed: 3, codebook });
  const opt = new AdamW(tf, model.params, { weightDecay: 0.1 });
  const before = new Map([...model.params].map(([n, v]) => [n, Float32Array.from(v.dataSync())]));
  await stepOn(model, opt, 1e-2);
  const moved = (n: string) =>
    model
      .p(n)
      .dataSync()
      .some((v, i) => v !== before.get(n)![i]);
  expect(moved("img.proj")).toBe(true);
  expect(moved("img.row")).toBe(true);
  expect(moved("img.col")).toBe(true);
  expect(moved("wte")).toBe(true);
  expect(moved("img.codebook")).toBe(false); // neither updated nor decayed
  model.dispose();
  opt.dispose();
});

test("grid cells: forward needs them, they change the logits, and cached decoding equals forward", async () => {
  const tf = await cpuTf();
  const model = new Transformer(tf, cfg, { seed: 4, codebook });
  // move the cell embeddings off their init so a wrong cell would show
  const opt = new AdamW(tf, model.params, { weightDecay: 0 });
  for (let s = 0; s < 3; s++) await stepOn(model, opt, 3e-2);
  const T = seq.length;
  const x = tf.tensor2d(Int32Array.from(seq), [1, T], "int32");
  const mask = documentMask(tf, new Int32Array(T), 1, T);
  expect(() => model.forward(x, mask)).toThrow(/pass the \[1, 16\] cells/);
  const full = model.forward(x, mask, model.cells(seq, 1, T)).dataSync();
  const shifted = model.forward(x, mask, tf.tensor2d(new Int32Array(T), [1, T], "int32")).dataSync();
  expect(Math.max(...Array.from(full, (v, i) => Math.abs(v - shifted[i]!)))).toBeGreaterThan(1e-3);
  // a prompt through <boi> and two codes, then one token at a time, as generate's decoder calls it
  const cache = new KVCache();
  const cached: number[] = [];
  for (let to = 6; to <= T; to++) {
    const from = cache.length;
    const piece = tf.tensor2d(Int32Array.from(seq.slice(from, to)), [1, to - from], "int32");
    cached.push(...model.forwardCached(piece, cache, model.cells(seq.slice(0, to), 1, to, from)).dataSync());
  }
  expect(Math.max(...Array.from(full, (v, i) => Math.abs(v - cached[i]!)))).toBeLessThan(1e-4);
  cache.dispose();
  model.dispose();
  opt.dispose();
});
