import { pipeline } from "node:stream/promises";
import { describeFsError } from "@laion/cli-kit";
import { parquetWriteBuffer } from "hyparquet-writer";
import tar from "tar-stream";
import type { EncodeFormat } from "./resize.js";
import { plainValue, pythonJson, type SampleMeta, type SampleRecord } from "./sample-meta.js";
import type { ShardStats } from "./stats.js";
import { explain, OutputError, type PendingObject, type ShardStorage } from "./storage.js";

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

/** A shard is finished when its tar and its `_stats.json` exist: the stats file is always written last. */
export async function isShardComplete(storage: ShardStorage, name: string): Promise<boolean> {
  const files = shardFiles(name);
  return (await storage.exists(files.stats)) && (await storage.exists(files.tar));
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

/**
 * The webdataset writer of img2dataset's `--output_format webdataset`: `{shard}.tar` holding `{key}.{jpg|webp|png}`,
 * `{key}.json` and `{key}.txt` for each successful sample (members sorted by extension within a sample, mode 0444,
 * user/group "bigdata", as webdataset's TarWriter), `{shard}.parquet` with one row per input row (failures too),
 * and `{shard}_stats.json`. The tar is streamed to a temporary object and only appears, renamed, when complete.
 */
export async function createWebDatasetWriter(params: WebDatasetWriterParams): Promise<SampleWriter> {
  const { storage, name, encodeFormat, saveCaption } = params;
  const files = shardFiles(name);
  const pending: PendingObject = await storage.create(files.tar);
  const pack = tar.pack();
  const piped = pipeline(pack, pending.stream);
  piped.catch(() => {}); // surfaced by write() and close()
  // late 'error' events (after pipeline has let go) must not crash the process: `piped` carries the error
  pack.on("error", () => {});
  pending.stream.on("error", () => {});
  // a failing destination (disk full) must fail the writes waiting on it, not leave them hanging
  const asOutputError = (err: unknown) => {
    if (err instanceof OutputError) return err;
    // stream writes carry no path; ENOSPC → "disk full writing 00003.tar in data/laion/webdataset (ENOSPC)"
    if ((err as NodeJS.ErrnoException).code)
      return new OutputError(
        describeFsError(err, { action: "writing", file: `${storage.location}/${files.tar}` }),
      );
    return new OutputError(`cannot write ${files.tar} in ${storage.location}: ${explain(err)}`);
  };
  const broken = piped.then(
    () => new Promise<never>(() => {}),
    (err: unknown) => {
      throw asOutputError(err);
    },
  );
  broken.catch(() => {});
  const metas: SampleMeta[] = [];
  const mtime = new Date();
  let closed = false;

  const entry = (memberName: string, body: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const sink = pack.entry(
        { name: memberName, size: body.length, mode: 0o444, mtime, uname: "bigdata", gname: "bigdata" },
        body,
        (err) => (err ? reject(err) : resolve()),
      );
      // when the destination fails, pending entries are destroyed too: their error is `broken`'s
      sink.on("error", () => {});
    });

  return {
    async write(sample) {
      metas.push(sample.meta);
      if (!sample.image) return;
      const key = sample.meta.key;
      const members: [string, Buffer][] = [
        [encodeFormat, Buffer.from(sample.image.buffer, sample.image.byteOffset, sample.image.byteLength)],
        ["json", Buffer.from(pythonJson(plainValue(sample.meta)), "utf8")],
      ];
      if (saveCaption) members.push(["txt", Buffer.from(sample.caption ?? "", "utf8")]);
      members.sort((a, b) => (a[0] < b[0] ? -1 : 1));
      try {
        for (const [ext, body] of members) {
          const added = entry(`${key}.${ext}`, body);
          added.catch(() => {}); // when the destination broke first, `broken` says why
          await Promise.race([added, broken]);
        }
      } catch (err) {
        throw asOutputError(err);
      }
    },
    async close(stats) {
      if (closed) return;
      closed = true;
      pack.finalize();
      await piped;
      await pending.commit();
      metas.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      const columns = [
        ...params.additionalColumns,
        ...(saveCaption ? ["caption"] : []),
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
      const parquet = parquetWriteBuffer({ columnData: parquetColumns(metas, columns) });
      await storage.put(files.parquet, new Uint8Array(parquet));
      // last: its presence marks the shard as complete
      await storage.put(files.stats, `${JSON.stringify(stats, null, 4)}\n`);
    },
    async abort() {
      if (closed) return;
      closed = true;
      pack.destroy();
      await pending.abort();
    },
  };
}
