import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { isHeldOut } from "@laion/mixer";
import { localFolderStorage, TarWriter } from "@laion/shards";
import { afterAll, expect, test } from "vitest";
import { parseConfig } from "../src/config.js";
import { tokenizerTexts } from "../src/data.js";
import { trainBpe } from "../src/tokenizer.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tok-texts-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const CAPTIONS = Array.from(
  { length: 40 },
  (_, i) => `${["a red", "a blue", "රතු", "නිල්"][i % 4]} ${["circle", "square", "කවයක්"][i % 3]} number ${i}`,
);

/** A LAION-style shard: `{key}.txt` captions (and a stand-in image member the reader passes over). */
async function writeShard(dir: string): Promise<void> {
  const tar = await TarWriter.open({ storage: localFolderStorage(dir), name: "00000.tar" });
  const utf8 = new TextEncoder();
  for (const [i, c] of CAPTIONS.entries())
    await tar.write({ __key__: String(i).padStart(9, "0"), txt: utf8.encode(c), png: new Uint8Array(8) });
  await tar.close();
}

const laionOnly = (laionProb: number) =>
  parseConfig({
    output_dir: path.join(tmp, "out"),
    data: { corpus: [], captions: null, held_out_fraction: 0.2 },
    training: { laion_path: path.join(tmp, "00000.tar"), laion_prob: laionProb, text_only_prob: 0 },
  });

test("a LAION-only config trains its tokenizer on the LAION captions (outside the held-out keys)", async () => {
  await writeShard(tmp);
  const texts: string[] = [];
  for await (const t of tokenizerTexts(laionOnly(1))) texts.push(t);
  const expected = CAPTIONS.filter((_, i) => !isHeldOut(String(i).padStart(9, "0"), 0.2, "laion"));
  expect(expected.length).toBeLessThan(CAPTIONS.length); // the split does leave some out
  expect(texts).toEqual(expected);
  // Word pieces, not bytes: "circle" and the Sinhala word become single tokens.
  const tok = await trainBpe({ texts: tokenizerTexts(laionOnly(1)), vocabSize: 320 });
  expect(tok.encode(" circle")).toHaveLength(1);
  expect(tok.encode(" කවයක්")).toHaveLength(1);
  // The cap stops the pass early.
  const capped: string[] = [];
  for await (const t of tokenizerTexts(laionOnly(1), 5)) capped.push(t);
  expect(capped).toEqual(expected.slice(0, 5));
});

test("LAION captions are left out when LAION steps have no share", async () => {
  const cfg = laionOnly(0);
  const texts: string[] = [];
  for await (const t of tokenizerTexts({ ...cfg, data: { ...cfg.data, corpus: [] } })) texts.push(t);
  expect(texts).toEqual([]);
});
