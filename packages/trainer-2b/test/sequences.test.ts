import { expect, test } from "vitest";
import { buildDoc, type Doc, Packer } from "../src/sequences.js";
import { trainBpe } from "../src/tokenizer.js";
import { tokenWeights } from "../src/train-step.js";
import {
  BOI,
  BOS,
  EOI,
  EOS,
  kindOf,
  makeVocab,
  PAD,
  SPECIALS,
  vocabToCodes,
  vocabToText,
} from "../src/vocab.js";

test("vocabulary layout: specials, then text tokens, then VQ codes", async () => {
  expect(SPECIALS).toEqual(["<pad>", "<bos>", "<eos>", "<boi>", "<eoi>"]);
  expect([PAD, BOS, EOS, BOI, EOI]).toEqual([0, 1, 2, 3, 4]);
  const v = makeVocab({ textSize: 300, codebookSize: 16 });
  expect(v).toEqual({ textOffset: 5, textSize: 300, imageOffset: 305, codebookSize: 16, size: 321 });
  expect([kindOf(v, 4), kindOf(v, 5), kindOf(v, 304), kindOf(v, 305), kindOf(v, 320)]).toEqual([
    "special",
    "text",
    "text",
    "image",
    "image",
  ]);
});

test("documents: text-only, text→image and image→text layouts", async () => {
  const tokenizer = await trainBpe({ texts: ["පූසා cat"], vocabSize: 260 });
  const vocab = makeVocab({ textSize: tokenizer.size, codebookSize: 8 });
  const text = "පූසා";
  const t = buildDoc({ vocab, tokenizer, source: "text", text });
  expect(t.tokens[0]).toBe(BOS);
  expect(t.tokens.at(-1)).toBe(EOS);
  expect(tokenizer.decode(vocabToText(vocab, t.tokens))).toBe(text);
  const codes = [7, 0, 3];
  const t2i = buildDoc({ vocab, tokenizer, source: "local", text, codes, direction: "text2image" });
  const n = t.tokens.length - 2;
  expect(t2i.tokens.slice(n + 1)).toEqual([
    BOI,
    7 + vocab.imageOffset,
    vocab.imageOffset,
    3 + vocab.imageOffset,
    EOI,
    EOS,
  ]);
  const i2t = buildDoc({ vocab, tokenizer, source: "local", text, codes, direction: "image2text" });
  expect(i2t.tokens.slice(0, 6)).toEqual([
    BOS,
    BOI,
    7 + vocab.imageOffset,
    vocab.imageOffset,
    3 + vocab.imageOffset,
    EOI,
  ]);
  expect(vocabToCodes(vocab, i2t.tokens)).toEqual(codes);
  expect(() => buildDoc({ vocab, tokenizer, source: "x", text, codes: [8] })).toThrow(
    /outside codebook of 8/,
  );
});

test("packing: windows shift by one, the cross-document target is masked, ids mark documents", () => {
  const vocab = makeVocab({ textSize: 256, codebookSize: 4 });
  const img = vocab.imageOffset;
  const docs: Doc[] = [
    { tokens: [BOS, 10, 11, EOS], source: "text", kind: "text" },
    { tokens: [BOS, 12, BOI, img, img + 1, EOI, EOS], source: "local", kind: "text2image" },
    { tokens: [BOS, 13, 14, 15, EOS], source: "text", kind: "text" },
  ];
  const p = new Packer({ vocab, seqLen: 4, batchSize: 2, sources: ["text", "local"] });
  for (const d of docs) p.push(d);
  expect(p.ready).toBe(true);
  const b = p.batch();
  expect(Array.from(b.inputs)).toEqual([BOS, 10, 11, EOS, BOS, 12, BOI, img]);
  expect(Array.from(b.targets)).toEqual([10, 11, EOS, BOS, 12, BOI, img, img + 1]);
  expect(Array.from(b.docIds)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
  // EOS → next BOS crosses documents: no loss there.
  expect(Array.from(b.lossMask)).toEqual([1, 1, 1, 0, 1, 1, 1, 1]);
  // codes drawn after their caption (a text→image document) are modality 2
  expect(Array.from(b.modality)).toEqual([0, 0, 0, 0, 0, 0, 2, 2]);
  expect(Array.from(b.sourceIdx, (i) => b.sources[i])).toEqual([
    "text",
    "text",
    "text",
    "local",
    "local",
    "local",
    "local",
    "local",
  ]);
  // The tail continues in the next batch, and survives a state round trip.
  const again = new Packer({
    vocab,
    seqLen: 4,
    batchSize: 2,
    sources: ["text", "local"],
    state: JSON.parse(JSON.stringify(p.state())),
  });
  const tail = again.batch(true);
  expect(Array.from(tail.inputs.slice(0, 4))).toEqual([img + 1, EOI, EOS, BOS]);
  expect(Array.from(tail.lossMask.slice(0, 4))).toEqual([1, 1, 0, 1]);
  expect(tail.lossMask.slice(8 - 1)[0]).toBe(0);
});

test("packing with wholeDocs: a document that fits a window is never cut; the gap is masked <pad>", () => {
  const vocab = makeVocab({ textSize: 256, codebookSize: 4 });
  const p = new Packer({ vocab, seqLen: 4, batchSize: 2, sources: ["text"], wholeDocs: true });
  p.push({ tokens: [BOS, 10, EOS], source: "text", kind: "text" });
  p.push({ tokens: [BOS, 12, 13, EOS], source: "text", kind: "text" }); // would straddle: starts window 1
  p.push({ tokens: [BOS, 15, EOS], source: "text", kind: "text" });
  const b = p.batch();
  expect(Array.from(b.inputs)).toEqual([BOS, 10, EOS, PAD, BOS, 12, 13, EOS]);
  expect(Array.from(b.targets)).toEqual([10, EOS, PAD, BOS, 12, 13, EOS, BOS]);
  expect(Array.from(b.lossMask)).toEqual([1, 1, 0, 0, 1, 1, 1, 0]);
  // The second window holds exactly the second document: it attends to nothing else.
  expect(new Set(Array.from(b.docIds.slice(4))).size).toBe(1);
  expect(b.docIds[3]).not.toBe(b.docIds[2]);
});

test("codes after a caption are weighted apart (loss_weight_image_captioned); old packer states restore", () => {
  const vocab = makeVocab({ textSize: 256, codebookSize: 4 });
  const img = vocab.imageOffset;
  const p = new Packer({ vocab, seqLen: 7, batchSize: 2, sources: ["laion"], wholeDocs: true });
  p.push({ tokens: [BOS, 12, BOI, img, img + 1, EOI, EOS], source: "laion", kind: "text2image" });
  p.push({ tokens: [BOS, BOI, img + 2, img + 3, EOI, 13, EOS], source: "laion", kind: "image2text" });
  const state = JSON.parse(JSON.stringify(p.state()));
  const b = p.batch(true);
  expect(Array.from(b.targets.slice(0, 6))).toEqual([12, BOI, img, img + 1, EOI, EOS]);
  expect(Array.from(b.modality.slice(0, 6))).toEqual([0, 0, 2, 2, 0, 0]);
  expect(Array.from(b.targets.slice(7, 13))).toEqual([BOI, img + 2, img + 3, EOI, 13, EOS]);
  expect(Array.from(b.modality.slice(7, 13))).toEqual([0, 1, 1, 0, 0, 0]);
  const w = (imageCaptioned?: number) =>
    Array.from(
      tokenWeights(b, { text: 1, image: 0.25, ...(imageCaptioned !== undefined ? { imageCaptioned } : {}) })
        .weights,
    );
  expect(w().slice(2, 4)).toEqual([0.25, 0.25]); // unset: every code weighs loss_weight_image
  expect(w(1).slice(2, 4)).toEqual([1, 1]);
  expect(w(1).slice(8, 10)).toEqual([0.25, 0.25]);
  expect(tokenWeights(b, { text: 1, image: 0.25, imageCaptioned: 1 }).sum).toBe(
    w(1).reduce((a, x) => a + x, 0),
  );
  // A state saved before `captioned` existed: its tail's codes weigh as image-first ones.
  delete state.captioned;
  const old = new Packer({ vocab, seqLen: 7, batchSize: 2, sources: ["laion"], state }).batch(true);
  expect(Array.from(old.targets)).toEqual(Array.from(b.targets));
  expect(Array.from(old.modality.slice(0, 6))).toEqual([0, 0, 1, 1, 0, 0]);
});
