import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Random } from "@laion/mixer";
import { expect, test } from "vitest";
import { pretokenize, Tokenizer, trainBpe } from "../src/tokenizer.js";
import { sinhalaSample } from "./text-fixtures.js";

function randomString(rng: () => number, n: number): string {
  // Code point pools: ASCII, Sinhala block (incl. vowel signs, virama), ZWJ, emoji (astral), CJK, controls.
  const pools = [
    [0x20, 0x7e],
    [0x0d80, 0x0dff],
    [0x200d, 0x200d],
    [0x1f300, 0x1faff],
    [0x4e00, 0x4fff],
    [0x00, 0x1f],
    [0x80, 0x7ff],
  ] as const;
  let s = "";
  for (let i = 0; i < n; i++) {
    const [lo, hi] = pools[Math.floor(rng() * pools.length)]!;
    s += String.fromCodePoint(lo + Math.floor(rng() * (hi - lo + 1)));
  }
  return s;
}

test("pre-tokenisation keeps Sinhala words (vowel signs, virama, ZWJ) in one chunk and covers the text", () => {
  const text = "ශ්‍රී ලංකාව, රාජ්‍යය 2024! hello  world";
  const chunks = pretokenize(text);
  expect(chunks.join("")).toBe(text);
  expect(chunks).toContain("ශ්‍රී");
  expect(chunks).toContain(" ලංකාව");
  expect(chunks).toContain(" රාජ්‍යය");
});

test("BPE trained on Sinhala + English round-trips any UTF-8 string exactly (seeded property test)", async () => {
  const corpus = sinhalaSample();
  const tok = await trainBpe({ texts: corpus, vocabSize: 256 + 300 });
  expect(tok.size).toBeGreaterThan(300);
  const rng = new Random(1234);
  for (let i = 0; i < 300; i++) {
    const s = randomString(() => rng.next(), 1 + Math.floor(rng.next() * 40));
    expect(tok.decode(tok.encode(s))).toBe(s);
  }
  for (const line of corpus) expect(tok.decode(tok.encode(line))).toBe(line);
  // Merges learned from the corpus compress it: fewer tokens than UTF-8 bytes.
  const text = corpus.join("\n");
  expect(tok.encode(text).length).toBeLessThan(new TextEncoder().encode(text).length * 0.5);
});

test("tokenizer JSON save/load gives the same ids", async () => {
  const tok = await trainBpe({ texts: sinhalaSample(), vocabSize: 400 });
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tok-")), "tokenizer.json");
  tok.save(file);
  const again = Tokenizer.load(file);
  const s = "මම ගෙදර යනවා 🙂 and back";
  expect(again.encode(s)).toEqual(tok.encode(s));
  expect(() => new Tokenizer({ format: "nope" } as never)).toThrow(/format must be "laion-bpe-v1"/);
});

test("saving over a folder fails and leaves no temp file beside it", async () => {
  const tok = await trainBpe({ texts: sinhalaSample(), vocabSize: 300 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tok-"));
  const target = path.join(dir, "tokenizer.json");
  fs.mkdirSync(target);
  expect(() => tok.save(target)).toThrow(/EISDIR|directory/);
  expect(fs.readdirSync(dir)).toEqual(["tokenizer.json"]);
});

test("training is deterministic", async () => {
  const a = await trainBpe({ texts: sinhalaSample(), vocabSize: 350 });
  const b = await trainBpe({ texts: sinhalaSample(), vocabSize: 350 });
  expect(a.merges).toEqual(b.merges);
});
