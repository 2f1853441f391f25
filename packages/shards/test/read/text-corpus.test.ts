import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fixturePath } from "@laion/test-servers";
import { afterAll, describe, expect, test } from "vitest";
import { TextCorpus } from "../../src/index.js";
import { collect, tempDir } from "./helpers.js";

const here = (name: string) => path.join(import.meta.dirname, "fixtures", name);
const tmp = tempDir();
afterAll(tmp.cleanup);
const at = (name: string) => path.join(tmp.dir, name);

const LEAD_CORPUS = fixturePath("sinhala", "corpus.txt");
const graphemes = (text: string) =>
  [...new Intl.Segmenter("si", { granularity: "grapheme" }).segment(text)].map((s) => s.segment);

describe("TextCorpus", () => {
  test.skipIf(!existsSync(LEAD_CORPUS))(
    "the Sinhala corpus round-trips byte-exact, whatever the read size",
    async () => {
      const bytes = readFileSync(LEAD_CORPUS);
      const text = bytes.toString("utf8");
      for (const readBufferSize of [1, 2, 3, 7, 64 * 1024]) {
        const docs = await collect(TextCorpus(LEAD_CORPUS, { readBufferSize }));
        expect(docs).toHaveLength(text.trimEnd().split("\n").length);
        expect(Buffer.from(`${docs.map((d) => d.txt).join("\n")}\n`).equals(bytes)).toBe(true);
      }
    },
  );

  test("paragraph mode with tiny reads keeps every grapheme cluster (ZWJ conjuncts, vowel signs) intact", async () => {
    const file = here("sinhala-paragraphs.txt");
    const text = readFileSync(file, "utf8");
    const expected = text.trimEnd().split("\n\n");
    for (const readBufferSize of [1, 2, 3, 4, 5, 7]) {
      const docs = await collect(TextCorpus(file, { mode: "paragraph", readBufferSize }));
      expect(docs.map((d) => d.txt)).toEqual(expected);
      expect(docs.map((d) => graphemes(d.txt))).toEqual(expected.map(graphemes));
    }
    const docs = await collect(TextCorpus(file, { mode: "paragraph" }));
    expect(docs.map((d) => d.__key__)).toEqual([
      "sinhala-paragraphs:1",
      "sinhala-paragraphs:4",
      "sinhala-paragraphs:6",
    ]);
    expect(docs[0]?.txt).toContain("ශ්\u200dරී"); // ශ + virama + ZWJ + ර + ී, untouched
  });

  test("decomposed (NFD) input comes out NFC; CRLF line ends are dropped", async () => {
    const nfc = "කොළඹ නගරය\r\nපොත් කියවීම\r\n";
    const nfd = nfc.normalize("NFD");
    expect(nfd).not.toBe(nfc);
    writeFileSync(at("nfd.txt"), nfd);
    const docs = await collect(TextCorpus(at("nfd.txt"), { readBufferSize: 3 }));
    expect(docs.map((d) => d.txt)).toEqual(["කොළඹ නගරය", "පොත් කියවීම"]);
    expect(docs.every((d) => d.txt === d.txt.normalize("NFC"))).toBe(true);
    const raw = await collect(TextCorpus(at("nfd.txt"), { normalize: false }));
    expect(raw[0]?.txt).toBe("කොළඹ නගරය".normalize("NFD"));
  });

  test(".jsonl: the text field of each line; a folder reads .txt and .jsonl files in sorted order", async () => {
    const docs = await collect(TextCorpus(here("sinhala.jsonl")));
    expect(docs.map((d) => d.txt)).toEqual(
      readFileSync(here("sinhala-paragraphs.txt"), "utf8").trimEnd().split("\n\n"),
    );
    const folder = await collect(
      TextCorpus(path.join(import.meta.dirname, "fixtures"), { mode: "paragraph" }),
    );
    expect(folder.map((d) => path.basename(d.__url__))).toEqual([
      ...Array(3).fill("sinhala-paragraphs.txt"),
      ...Array(3).fill("sinhala.jsonl"),
    ]);
  });

  test("a bad .jsonl line is an error naming file:line", async () => {
    writeFileSync(at("bad.jsonl"), '{"text": "ok"}\n\n{"text": 3}\n');
    await expect(collect(TextCorpus(at("bad.jsonl")))).rejects.toThrow(
      `${at("bad.jsonl")}:3: expected an object with a string "text" field`,
    );
    writeFileSync(at("broken.jsonl"), '{"text": "ok"}\n{"text": "no end\n');
    await expect(collect(TextCorpus(at("broken.jsonl")))).rejects.toThrow(
      `${at("broken.jsonl")}:2: invalid JSON`,
    );
  });

  test("invalid UTF-8 is an error with the file and the byte offset, whatever the read size", async () => {
    const good = Buffer.from("ශ්‍රී ලංකාව\nකොළඹ\n");
    // 0xE0 0x41: a three-byte lead byte followed by ASCII.
    const bad = Buffer.concat([good, Buffer.from([0xe0, 0x41]), Buffer.from("\nmore\n")]);
    writeFileSync(at("bad.txt"), bad);
    for (const readBufferSize of [1, 2, 3, 4, 1024]) {
      await expect(collect(TextCorpus(at("bad.txt"), { readBufferSize }))).rejects.toThrow(
        `${at("bad.txt")}: invalid UTF-8 at byte offset ${good.length}`,
      );
    }
    // A file ending inside a multi-byte character.
    writeFileSync(at("cut.txt"), good.subarray(0, 4));
    await expect(collect(TextCorpus(at("cut.txt"), { readBufferSize: 2 }))).rejects.toThrow(
      `${at("cut.txt")}: invalid UTF-8 at byte offset 3 (file ends inside a character)`,
    );
  });

  test("missing paths, other file types and bad modes are clear errors", async () => {
    await expect(collect(TextCorpus(at("nope.txt")))).rejects.toThrow(
      `no such file or folder: ${at("nope.txt")}`,
    );
    writeFileSync(at("data.csv"), "a,b\n");
    await expect(collect(TextCorpus(at("data.csv")))).rejects.toThrow("is neither .txt nor .jsonl");
    expect(() => TextCorpus(at("x.txt"), { mode: "sentence" as never })).toThrow(
      'mode must be "line" or "paragraph", got "sentence"',
    );
  });
});
