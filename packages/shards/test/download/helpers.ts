import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fixturePath } from "@laion/test-servers";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { parquetWriteFile } from "hyparquet-writer";
import tar from "tar-stream";
import { DownloadFailedError, type RunStats } from "../../src/download/index.js";

export const ORIGINALS = fixturePath("images/originals");
export const ORIGINAL_NAMES = fs
  .readdirSync(ORIGINALS)
  .filter((f) => /^\d+_\d+\.jpg$/.test(f))
  .sort();

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `laion-dl-${prefix}-`));
}

/** Real LAION captions (HTML entities, emoji, non-English text and all) from fixtures/laion/test_1000.parquet. */
export async function realCaptions(count: number): Promise<{ caption: string; index: bigint }[]> {
  const file = await asyncBufferFromFile(fixturePath("laion/test_1000.parquet"));
  const rows = await parquetReadObjects({
    file,
    columns: ["TEXT", "__index_level_0__"],
    rowEnd: count,
    compressors,
  });
  return rows.map((r) => ({
    caption: String(r.TEXT ?? ""),
    index: BigInt(r.__index_level_0__ as number | bigint),
  }));
}

/** Writes a LAION-shaped parquet (URL, TEXT, __index_level_0__ or any other columns). */
export function writeParquet(
  file: string,
  columns: Record<string, { data: unknown[]; type: "STRING" | "INT64" }>,
): string {
  parquetWriteFile({
    filename: file,
    columnData: Object.entries(columns).map(([name, c]) => ({
      name,
      data: c.data as never,
      type: c.type,
      nullable: true,
    })),
  });
  return file;
}

export async function readParquetRows(file: string): Promise<Record<string, unknown>[]> {
  return parquetReadObjects({ file: await asyncBufferFromFile(file), compressors });
}

/** Members of a tar in order, with their bytes. */
export async function readTar(file: string): Promise<{ name: string; body: Buffer; mode: number }[]> {
  const extract = tar.extract();
  const out: { name: string; body: Buffer; mode: number }[] = [];
  const done = new Promise<void>((resolve, reject) => {
    extract.on("entry", (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: unknown) => chunks.push(c as Buffer));
      stream.on("end", () => {
        out.push({ name: header.name, body: Buffer.concat(chunks), mode: header.mode ?? 0 });
        next();
      });
      stream.resume();
    });
    extract.on("finish", resolve);
    extract.on("error", reject);
  });
  fs.createReadStream(file).pipe(extract);
  await done;
  return out;
}

/** The files of an output folder, without our dot-file bookkeeping (run manifest, locks): img2dataset's layout. */
export function listDir(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => !f.startsWith("."))
    .sort();
}

/** The run's stats, also when it failed for downloading too few images (the fault tests expect that). */
export async function statsOf(run: Promise<RunStats>): Promise<RunStats> {
  return run.catch((err: unknown) => {
    if (err instanceof DownloadFailedError) return err.stats;
    throw err;
  });
}
