import path from "node:path";
import { fixturePath } from "@laion/test-servers";
import type { AsyncBuffer, DecodedArray } from "hyparquet";
import { asyncBufferFromFile, parquetMetadataAsync } from "hyparquet";
import { parquetHeader } from "hyparquet/src/column.js";
import { parquetWriteFile } from "hyparquet-writer";
import { expect, test } from "vitest";
import { ColumnPages } from "../src/column-pages.js";
import { localBuffer } from "../src/open-parquet.js";
import { readBatches } from "../src/read-batches.js";
import { readAll, tempDir } from "./helpers.js";

/** Every value of a column, range by range, as a plain array (typed arrays spread). */
async function readInRanges(
  read: (start: number, end: number) => Promise<DecodedArray>,
  rows: number,
  step: number,
) {
  const out: unknown[] = [];
  for (let start = 0; start < rows; start += step)
    out.push(...(await read(start, Math.min(rows, start + step))));
  return out;
}

function counting(file: AsyncBuffer) {
  const reads: [number, number][] = [];
  const buf: AsyncBuffer = {
    byteLength: file.byteLength,
    slice(start, end) {
      reads.push([start, end ?? file.byteLength]);
      return file.slice(start, end);
    },
  };
  return { buf, reads };
}

test("version 1 dictionary pages (the pyarrow-written fixture) read in ranges equal hyparquet's whole read", async () => {
  // the fixture has no offset index: its pages are found by their headers, here by ColumnPages' own
  // walk and by the test's (hyparquet's header parser), given as page locations
  const file = await asyncBufferFromFile(fixturePath("laion/test_10000.parquet"));
  const metadata = await parquetMetadataAsync(file);
  const want = await readAll(fixturePath("laion/test_10000.parquet"));
  for (const chunk of metadata.row_groups[0]!.columns) {
    const name = chunk.meta_data!.path_in_schema[0]!;
    for (const pages of [undefined, await walkPages(file, chunk.meta_data!)]) {
      for (const step of [700, 4096]) {
        const reader = new ColumnPages({ file, metadata, chunk, pages, groupStart: 0, groupRows: 10_000 });
        const got = await readInRanges((a, b) => reader.read(a, b), 10_000, step);
        expect(got).toEqual(want.map((r) => r[name]));
      }
    }
  }
});

test("without offset indexes a column chunk is fetched in windows as it is read, never whole", async () => {
  const rows = 60_000;
  const file = path.join(tempDir(), "no-index.parquet");
  parquetWriteFile({
    filename: file,
    rowGroupSize: rows,
    pageSize: 16_384,
    columnData: [
      {
        name: "TEXT",
        // hashed words: snappy cannot shrink the chunk below a few windows
        data: col(rows, (i) => (i % 13 === 0 ? null : `caption ${hash(i)} ${hash(i + rows)} ${hash(3 * i)}`)),
      },
      { name: "similarity", data: col(rows, (i) => (i % 7 === 0 ? null : i / rows)), type: "DOUBLE" },
    ].map((c) => ({ nullable: true, offsetIndex: false, type: "STRING", ...c }) as never),
  });
  const { buf, reads } = counting(await asyncBufferFromFile(file));
  const metadata = await parquetMetadataAsync(buf);
  const chunks = metadata.row_groups[0]!.columns;
  expect(chunks.every((c) => c.offset_index_offset === undefined)).toBe(true);
  reads.length = 0;
  const got: Record<string, unknown>[] = [];
  for await (const batch of readBatches({ file: buf, metadata, columns: ["TEXT", "similarity"] }))
    for (let i = 0; i < batch.length; i++)
      got.push({ TEXT: batch.columns["TEXT"]![i], similarity: batch.columns["similarity"]![i] });
  expect(got).toEqual(await readAll(file));
  const largest = Math.max(...reads.map(([a, b]) => b - a));
  expect(largest).toBeLessThanOrEqual(1 << 20);
  // the TEXT chunk is ~1.3 MB: fetched in windows of 256 KiB, 512 KiB, then 1 MiB
  expect(Math.min(...reads.map(([a, b]) => b - a))).toBeLessThan(
    Number(chunks[0]!.meta_data!.total_compressed_size) / 4,
  );
  expect(largest).toBeLessThan(Number(chunks[0]!.meta_data!.total_compressed_size));
  // a page running over a window's end is completed from the window, not fetched again
  const bytes = new Set<number>();
  for (const [a, b] of reads) for (let x = a; x < b; x++) bytes.add(x);
  expect(reads.reduce((n, [a, b]) => n + b - a, 0)).toBe(bytes.size);
});

test("dictionary and plain pages with nulls, over many pages, equal hyparquet's reading; each page is fetched once", async () => {
  const rows = 5_000;
  const file = path.join(tempDir(), "nulls.parquet");
  parquetWriteFile({
    filename: file,
    rowGroupSize: 3_000,
    pageSize: 4_096,
    columnData: [
      // few distinct values: dictionary-encoded; nulls every 5th row
      { name: "WIDTH", data: col(rows, (i) => (i % 5 === 0 ? null : BigInt(64 + (i % 9)))), type: "INT64" },
      { name: "similarity", data: col(rows, (i) => (i % 7 === 0 ? null : i / rows)), type: "DOUBLE" },
      { name: "TEXT", data: col(rows, (i) => (i % 11 === 0 ? null : `caption ${i}`)), type: "STRING" },
      { name: "hash", data: col(rows, (i) => BigInt(i) * 1_000_003n), type: "INT64", nullable: false },
    ].map((c) => ({ nullable: true, ...c }) as never),
  });
  const want = await readAll(file);
  const { buf, reads } = counting(await asyncBufferFromFile(file));
  const metadata = await parquetMetadataAsync(buf);
  expect(metadata.row_groups).toHaveLength(2);
  for (const step of [700, 4096]) {
    reads.length = 0;
    const got: Record<string, unknown>[] = [];
    for await (const batch of readBatches({
      file: buf,
      metadata,
      columns: ["WIDTH", "similarity", "TEXT", "hash"],
      batchRows: step,
      maxBatchRows: step,
    }))
      for (let i = 0; i < batch.length; i++)
        got.push(Object.fromEntries(Object.entries(batch.columns).map(([k, v]) => [k, v[i]])));
    expect(got).toEqual(want);
    // no byte of a data page is read twice (dictionary pages and offset indexes are read once a row group)
    const bytes = new Set<number>();
    for (const [a, b] of reads) for (let x = a; x < b; x++) bytes.add(x);
    expect(reads.reduce((n, [a, b]) => n + b - a, 0)).toBe(bytes.size);
  }
});

test("batches held while later pages are read keep their values (page buffers are reused, never handed out)", async () => {
  const rows = 20_000;
  const file = path.join(tempDir(), "held.parquet");
  const bad = new Uint8Array([0x68, 0xff, 0xfe, 0x69]); // invalid UTF-8: decoded as hyparquet decodes it
  parquetWriteFile({
    filename: file,
    rowGroupSize: 8_000,
    pageSize: 8_192,
    columnData: [
      {
        name: "URL",
        data: col(rows, (i) => (i % 9 === 0 ? null : i % 997 === 1 ? bad : `https://e.x/${hash(i)}`)),
      },
      { name: "WIDTH", data: col(rows, (i) => (i % 5 === 0 ? null : BigInt(64 + (i % 300)))), type: "INT64" },
      { name: "similarity", data: col(rows, (i) => i / rows), type: "DOUBLE", nullable: false },
      { name: "hash", data: col(rows, (i) => (i % 3 === 0 ? null : BigInt(i) * 1_000_003n)), type: "INT64" },
    ].map((c) => ({ nullable: true, type: "STRING", ...c }) as never),
  });
  const want = await readAll(file);
  const columns = ["URL", "WIDTH", "similarity", "hash"];
  // our local file reads into a reused buffer; hyparquet's allocates one per read
  for (const buf of [await localBuffer(file), await asyncBufferFromFile(file)]) {
    const metadata = await parquetMetadataAsync(buf);
    const batches = [];
    for await (const batch of readBatches({
      file: buf,
      metadata,
      columns,
      batchRows: 1_500,
      maxBatchRows: 1_500,
    }))
      batches.push(batch);
    const got = batches.flatMap((b) =>
      col(b.length, (i) => Object.fromEntries(columns.map((c) => [c, b.columns[c]![i]]))),
    );
    expect(got).toEqual(want);
  }
});

test("a page whose row count disagrees with the offset index is an error naming the column and row", async () => {
  const file = await asyncBufferFromFile(fixturePath("laion/test_10000.parquet"));
  const metadata = await parquetMetadataAsync(file);
  const chunk = metadata.row_groups[0]!.columns[0]!;
  const pages = await walkPages(file, chunk.meta_data!);
  const reader = new ColumnPages({ file, metadata, chunk, pages, groupStart: 0, groupRows: 12_000 });
  await expect(reader.read(0, 12_000)).rejects.toThrow(
    /column URL: page at row 0 holds 10000 rows, .* says 12000/,
  );
});

function hash(i: number): string {
  let x = Math.imul(i + 1, 0x9e3779b1) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0x5bd1e995) >>> 0;
  return (x ^ (x >>> 15)).toString(36);
}

function col<T>(n: number, f: (i: number) => T): T[] {
  return Array.from({ length: n }, (_, i) => f(i));
}

/** Page locations of a column chunk without an offset index, from its page headers (hyparquet's parser). */
async function walkPages(
  file: AsyncBuffer,
  meta: { dictionary_page_offset?: bigint; data_page_offset: bigint; total_compressed_size: bigint },
) {
  const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
  const bytes = new Uint8Array(await file.slice(start, start + Number(meta.total_compressed_size)));
  const reader = { view: new DataView(bytes.buffer), offset: 0 };
  const pages: { offset: bigint; compressed_page_size: number; first_row_index: bigint }[] = [];
  let row = 0;
  while (reader.offset < bytes.length) {
    const at = reader.offset;
    const header = parquetHeader(reader);
    const size = reader.offset - at + header.compressed_page_size;
    const rows = header.data_page_header?.num_values ?? header.data_page_header_v2?.num_rows;
    if (rows !== undefined) {
      pages.push({ offset: BigInt(start + at), compressed_page_size: size, first_row_index: BigInt(row) });
      row += rows;
    }
    reader.offset = at + size;
  }
  return pages;
}
