import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fixturePath } from "@laion/test-servers";
import { asyncBufferFromFile, parquetMetadataAsync } from "hyparquet";
import { parquetWriteFile } from "hyparquet-writer";
import { afterAll, beforeAll, expect, test } from "vitest";
import { fetchLaion } from "../src/index.js";
import { readAll } from "./helpers.js";

// The real 10k URL/TEXT rows in one row group with offset indexes, plus numeric columns: as in LAION
// parts, the string columns span many pages and the numeric ones few, so page edges never line up.
let dir: string;
let file: string;
let bigPages: string;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "laion-fetch-pages-"));
  const rows = await readAll(fixturePath("laion/test_10000.parquet"), ["URL", "TEXT"]);
  file = path.join(dir, "pages.parquet");
  // 16 KiB pages: ~150 rows per URL/TEXT page, 2,000 per numeric page
  write(rows, file, 16_384);
  // 64 KiB pages: ~8k-row numeric pages, each spanning many reads (kept undecoded between them), as
  // LAION's 131k–262k-row numeric pages are
  bigPages = path.join(dir, "big-pages.parquet");
  write(rows, bigPages, 65_536);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(rows: Record<string, unknown>[], filename: string, pageSize: number): void {
  parquetWriteFile({
    filename,
    rowGroupSize: 10_000,
    pageSize,
    columnData: [
      { name: "URL", data: rows.map((r) => r["URL"]) as never, type: "STRING", nullable: true },
      { name: "TEXT", data: rows.map((r) => r["TEXT"]) as never, type: "STRING", nullable: true },
      {
        name: "WIDTH",
        // all distinct (plain-encoded, like LAION's hash): a dictionary column would be one page
        data: rows.map((_, i) => BigInt(64 + i * 37)) as never,
        type: "INT64",
        nullable: true,
      },
      {
        name: "similarity",
        data: rows.map((_, i) => (i % 7 === 0 ? null : (i % 1000) / 1000)) as never,
        type: "DOUBLE",
        nullable: true,
      },
    ],
  });
}

test.each([
  ["pages straddle every read", () => file],
  ["numeric pages span many reads", () => bigPages],
])("reads through offset indexes return exactly the file's rows when %s", async (_, which) => {
  const file = which();
  const md = await parquetMetadataAsync(await asyncBufferFromFile(file));
  expect(md.row_groups).toHaveLength(1);
  expect(md.row_groups[0]?.columns.every((c) => c.offset_index_offset !== undefined)).toBe(true);
  const want = await readAll(file);
  for (const batchRows of [700, 4096]) {
    const got = [];
    for await (const batch of fetchLaion({
      sources: [{ location: file, kind: "file" }],
      batchRows,
      maxBatchRows: batchRows,
    }).batches)
      got.push(...batch);
    // rows with an empty caption or a non-http URL are dropped by the default filters, in both
    const kept = want.filter(
      (r) => String(r["TEXT"] ?? "").trim() !== "" && /^https?:\/\//i.test(String(r["URL"])),
    );
    expect(got.length).toBe(kept.length);
    expect(got.map((r) => [r.URL, r.TEXT, Number(r.WIDTH), r.similarity ?? null])).toEqual(
      kept.map((r) => [r["URL"], r["TEXT"], Number(r["WIDTH"]), r["similarity"] ?? null]),
    );
  }
});
