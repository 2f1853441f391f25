import { parquetWriteBuffer } from "hyparquet-writer";
import { TarWriter } from "../write/tar-writer.js";
import type { EncodeFormat } from "./resize.js";
import { plainValue, pythonJson, type SampleMeta, type SampleRecord } from "./sample-meta.js";
import type { ShardStats } from "./stats.js";
import type { ShardStorage } from "./storage.js";

/** Every shard writer takes samples one by one and is closed (or aborted) once. */
export interface SampleWriter {
  write(sample: SampleRecord): Promise<void>;
  close(stats: ShardStats): Promise<void>;
  abort(): Promise<void>;
}

export interface ShardFiles {
  tar: string;
  parquet: string;
  stats: string;
}

export function shardFiles(name: string): ShardFiles {
  return { tar: `${name}.tar`, parquet: `${name}.parquet`, stats: `${name}_stats.json` };
}

/** The shard a file of the layout belongs to (`00001.tar`, `00001.parquet`, `00001_stats.json` → `00001`). */
export function shardOfFile(file: string): string | undefined {
  return /^(.+?)(?:\.tar|\.parquet|_stats\.json)$/.exec(file)?.[1];
}

/** A shard is finished when its tar and its `_stats.json` exist: the stats file is always written last. */
export async function isShardComplete(storage: ShardStorage, name: string): Promise<boolean> {
  const files = shardFiles(name);
  return (await storage.exists(files.stats)) && (await storage.exists(files.tar));
}

/**
 * Writes `{name}_stats.json` (4-space JSON, as img2dataset): the completion mark of every kind of shard
 * (the downloader's image shards, the encoder's code shards), so it goes last, after the tar is visible.
 */
export async function writeShardStats(storage: ShardStorage, name: string, stats: object): Promise<void> {
  await storage.put(shardFiles(name).stats, `${JSON.stringify(stats, null, 4)}\n`);
}

/**
 * A finished shard's `_stats.json`, parsed (as the writer of that kind of shard wrote it); undefined when
 * the shard is unfinished. A file that is not JSON throws, naming it.
 */
export async function readShardStats<T extends object>(
  storage: ShardStorage,
  name: string,
): Promise<T | undefined> {
  if (!(await isShardComplete(storage, name))) return undefined;
  const file = shardFiles(name).stats;
  try {
    return JSON.parse(await storage.read(file)) as T;
  } catch (err) {
    throw new Error(`${storage.location}/${file}: ${(err as Error).message}`);
  }
}

export interface WebDatasetWriterParams {
  storage: ShardStorage;
  /** `00000` */
  name: string;
  encodeFormat: EncodeFormat;
  /** Write `{key}.txt` members (the input has a caption column). */
  saveCaption: boolean;
  /** Names of the additional columns, for the parquet schema. */
  additionalColumns: readonly string[];
}

const INT_COLUMNS = new Set(["width", "height", "original_width", "original_height"]);

/** Column data for hyparquet-writer: known columns typed, additional ones typed by their values. */
function parquetColumns(rows: SampleMeta[], names: string[]) {
  return names.map((name) => {
    const data = rows.map((r) => (r[name] === undefined ? null : r[name]));
    if (INT_COLUMNS.has(name)) return { name, data, type: "INT32" as const, nullable: true };
    const present = data.filter((v) => v !== null);
    const isInt = (v: unknown) => typeof v === "bigint" || (typeof v === "number" && Number.isInteger(v));
    if (present.length > 0 && present.every(isInt))
      return {
        name,
        data: data.map((v) => (v === null ? null : BigInt(v as number))),
        type: "INT64" as const,
        nullable: true,
      };
    if (present.length > 0 && present.every((v) => typeof v === "number" || typeof v === "bigint"))
      return {
        name,
        data: data.map((v) => (v === null ? null : Number(v))),
        type: "DOUBLE" as const,
        nullable: true,
      };
    if (present.length > 0 && present.every((v) => typeof v === "boolean"))
      return { name, data, type: "BOOLEAN" as const, nullable: true };
    // strings, and anything mixed or nested, as text (objects as JSON)
    const text = data.map((v) => {
      if (v === null) return null;
      const plain = plainValue(v);
      return typeof plain === "object" ? JSON.stringify(plain) : String(plain);
    });
    return { name, data: text, type: "STRING" as const, nullable: true };
  });
}

/** The shard's parquet: one row per input row (failures too), sorted by key, in img2dataset's columns. */
function shardParquet(metas: SampleMeta[], params: WebDatasetWriterParams): ArrayBuffer {
  metas.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const columns = [
    ...params.additionalColumns,
    ...(params.saveCaption ? ["caption"] : []),
    "url",
    "key",
    "status",
    "error_message",
    "width",
    "height",
    "original_width",
    "original_height",
    "sha256",
  ];
  return parquetWriteBuffer({ columnData: parquetColumns(metas, columns) });
}

/**
 * The webdataset writer of img2dataset's `--output_format webdataset`: `{shard}.tar` holding `{key}.{jpg|webp|png}`,
 * `{key}.json` and `{key}.txt` for each successful sample (written by the package's TarWriter: members sorted by
 * extension, mode 0444, user/group "bigdata", the tar visible only when complete), `{shard}.parquet` with one row
 * per input row (failures too), and `{shard}_stats.json`, written last as the shard's completion mark.
 */
export async function createWebDatasetWriter(params: WebDatasetWriterParams): Promise<SampleWriter> {
  const { storage, name, encodeFormat, saveCaption } = params;
  const files = shardFiles(name);
  const tarWriter = await TarWriter.open({ storage, name: files.tar });
  const metas: SampleMeta[] = [];
  let closed = false;
  return {
    async write(sample) {
      metas.push(sample.meta);
      if (!sample.image) return;
      await tarWriter.write({
        __key__: sample.meta.key,
        [encodeFormat]: sample.image,
        json: pythonJson(plainValue(sample.meta)),
        txt: saveCaption ? (sample.caption ?? "") : undefined,
      });
    },
    async close(stats) {
      if (closed) return;
      closed = true;
      // the tar and the parquet are independent files: written side by side, each waits on its own disk
      // work (the parquet's fsync) instead of one after the other at the end of every shard
      const tarDone = tarWriter.close();
      tarDone.catch(() => {}); // awaited below
      await storage.put(files.parquet, new Uint8Array(shardParquet(metas, params)));
      await tarDone;
      // last: its presence marks the shard as complete
      await writeShardStats(storage, name, stats);
    },
    async abort() {
      if (closed) return;
      closed = true;
      await tarWriter.abort();
    },
  };
}
