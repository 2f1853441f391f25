import fs from "node:fs";
import path from "node:path";
import { fixturePath } from "@laion/test-servers";
import { describe, expect, test } from "vitest";
import { fetchLaion, fetchLaionSubset } from "../src/index.js";
import { tempDir, writeParquet } from "./helpers.js";

const T1000 = fixturePath("laion/test_1000.parquet");

async function drain(rows: AsyncIterable<unknown>) {
  for await (const _ of rows);
}

/** A run that fails must leave nothing under the final names. */
function expectNothingFinal(out: string) {
  expect(fs.existsSync(path.join(out, "filtered.parquet"))).toBe(false);
  expect(fs.existsSync(path.join(out, "fetch_stats.json"))).toBe(false);
}

describe("bad input gets a clear error and no half-written output", () => {
  test("missing file", async () => {
    const out = tempDir();
    await expect(fetchLaionSubset({ input: ["/no/such/file.parquet"], outDir: out })).rejects.toThrow(
      "input file not found: /no/such/file.parquet",
    );
    expectNothingFinal(out);
  });

  test("not a parquet file", async () => {
    const out = tempDir();
    const jpg = fixturePath("images/originals/123_456.jpg");
    await expect(fetchLaionSubset({ input: [jpg], outDir: out })).rejects.toThrow(
      `${jpg}: not a parquet file`,
    );
    expectNothingFinal(out);
  });

  test("truncated parquet", async () => {
    const out = tempDir();
    const cut = path.join(out, "cut.parquet");
    const bytes = fs.readFileSync(T1000);
    fs.writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expect(fetchLaionSubset({ input: [cut], outDir: out })).rejects.toThrow(
      `${cut}: truncated parquet file`,
    );
    expectNothingFinal(out);
  });

  test("wrong column names list the columns that exist", async () => {
    const dir = tempDir();
    const file = writeParquet(path.join(dir, "odd.parquet"), [
      { name: "link", data: ["https://a.org/1.jpg"], type: "STRING" },
      { name: "words", data: ["a cat"], type: "STRING" },
    ]);
    await expect(drain(fetchLaion({ sources: [{ location: file, kind: "file" }] }).rows)).rejects.toThrow(
      /no URL column .*set --url-col.*columns in .*odd\.parquet: link, words/,
    );
    await expect(
      drain(
        fetchLaion({ sources: [{ location: file, kind: "file" }], urlCol: "link", captionCol: "caption" })
          .rows,
      ),
    ).rejects.toThrow(/--caption-col caption: no such column; columns in .*: link, words/);
    const rows = [];
    for await (const r of fetchLaion({
      sources: [{ location: file, kind: "file" }],
      urlCol: "link",
      captionCol: "words",
    }).rows)
      rows.push(r);
    expect(rows).toEqual([{ URL: "https://a.org/1.jpg", TEXT: "a cat" }]);
  });

  test("a filter on a column the source lacks names the filter's column and the existing ones", async () => {
    await expect(
      drain(fetchLaion({ sources: [{ location: T1000, kind: "file" }], minWidth: 256 }).rows),
    ).rejects.toThrow(/a filter needs the WIDTH column .*columns in .*test_1000\.parquet: URL, TEXT$/);
  });

  test("--max-samples 0 or negative", async () => {
    for (const n of [0, -5]) {
      const out = tempDir();
      await expect(fetchLaionSubset({ input: [T1000], outDir: out, maxSamples: n })).rejects.toThrow(
        `--max-samples must be an integer >= 1, got ${n}`,
      );
      expectNothingFinal(out);
    }
  });

  test("unwritable --out-dir", async () => {
    const dir = tempDir();
    const blocker = path.join(dir, "a-file");
    fs.writeFileSync(blocker, "x");
    await expect(fetchLaionSubset({ input: [T1000], outDir: path.join(blocker, "out") })).rejects.toThrow(
      /--out-dir .*a-file\/out is not writable \((ENOTDIR|EEXIST)\)/,
    );
  });
});

test("a URL column of numbers is named with its type and the flag", async () => {
  const file = writeParquet(path.join(tempDir(), "numbers.parquet"), [
    { name: "URL", data: [1, 2], type: "INT32" },
    { name: "TEXT", data: ["a", "b"], type: "STRING" },
  ]);
  const rows = fetchLaion({ sources: [{ location: file, kind: "file" }] }).rows;
  await expect(
    (async () => {
      for await (const _ of rows);
    })(),
  ).rejects.toThrow(`URL column URL in ${file} holds INT32 values, not text; choose another with --url-col`);
});
