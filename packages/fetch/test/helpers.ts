import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { parquetWriteFile } from "hyparquet-writer";
import { afterEach } from "vitest";

const dirs: string[] = [];
/** A fresh temp dir, removed after the test. */
export function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "laion-fetch-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** All rows of a parquet file as objects (the reference reading, independent of the library). */
export async function readAll(file: string, columns?: string[]) {
  const buf = await asyncBufferFromFile(file);
  return parquetReadObjects({ file: buf, compressors, ...(columns ? { columns } : {}) });
}

export async function columnNames(file: string): Promise<string[]> {
  const md = await parquetMetadataAsync(await asyncBufferFromFile(file));
  return md.schema.slice(1).map((s) => s.name);
}

/** Write a small parquet with the given columns (hyparquet-writer), for column-filter tests. */
export function writeParquet(
  file: string,
  columns: { name: string; data: unknown[]; type: "STRING" | "INT64" | "INT32" | "DOUBLE" | "FLOAT" }[],
  rowGroupSize?: number,
): string {
  parquetWriteFile({
    filename: file,
    columnData: columns.map((c) => ({ name: c.name, data: c.data as never, type: c.type, nullable: true })),
    ...(rowGroupSize ? { rowGroupSize } : {}),
  });
  return file;
}
