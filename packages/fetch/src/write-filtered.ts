import fs from "node:fs";
import { describeFsError } from "@laion/cli-kit";
import type { ColumnSource, Writer } from "hyparquet-writer";
import { ByteWriter, schemaFromColumnData } from "hyparquet-writer";
import { snappyCompressor } from "hysnappy";
import { type ColumnMap, OUTPUT_ORDER } from "./columns.js";
import { FetchError } from "./errors.js";
import { type FetchMemoryParams, memoryTick } from "./heap-hint.js";
import { SpoolingParquetWriter } from "./spooling-writer.js";
import type { CanonicalColumn, LaionRow } from "./types.js";

/**
 * hysnappy's snappy (the reference C++ compiled to wasm) for the output pages, not hyparquet-writer's
 * JavaScript one, which allocates a view per literal (~300 MB of garbage per 100k LAION rows written):
 * 10M rows read, 1M written, in 24 instead of 34 CPU-seconds (load ~10). Same format, other bytes.
 * One instance per process, made by the first write (hysnappy's `snappyCompress` would compile the
 * module on every call; callers that only read never compile it).
 */
let snappy: ((input: Uint8Array) => Uint8Array) | undefined;
const compressor = () => {
  snappy ??= snappyCompressor();
  return snappy;
};

export type OutputType = "STRING" | "INT64" | "DOUBLE";
export interface OutputColumn {
  name: CanonicalColumn;
  type: OutputType;
}

const FIXED: Partial<Record<CanonicalColumn, OutputType>> = {
  URL: "STRING",
  TEXT: "STRING",
  WIDTH: "INT64",
  HEIGHT: "INT64",
  similarity: "DOUBLE",
  punsafe: "DOUBLE",
  pwatermark: "DOUBLE",
  LANGUAGE: "STRING",
};

/**
 * Output schema for a source: URL, TEXT first, then the LAION columns it has. Types are fixed per
 * column (WIDTH/HEIGHT INT64, scores DOUBLE) so parts from differently typed sources merge; `hash`
 * keeps the source's kind (integer or string).
 */
export function outputColumns(
  map: ColumnMap,
  types: Record<string, string | undefined> = {},
): OutputColumn[] {
  return OUTPUT_ORDER.filter((c) => map[c] !== undefined).map((name) => {
    const fixed = FIXED[name];
    if (fixed) return { name, type: fixed };
    const t = types[map[name]!];
    return {
      name,
      type: t === "INT64" || t === "INT32" ? "INT64" : t === "DOUBLE" || t === "FLOAT" ? "DOUBLE" : "STRING",
    };
  });
}

function columnsFromRow(row: LaionRow): OutputColumn[] {
  return OUTPUT_ORDER.filter((c) => c in row).map((name) => {
    const fixed = FIXED[name];
    if (fixed) return { name, type: fixed };
    const v = row[name];
    return { name, type: typeof v === "bigint" ? "INT64" : typeof v === "number" ? "DOUBLE" : "STRING" };
  });
}

function convert(type: OutputType, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  // Pre-encoded UTF-8: hyparquet-writer passes bytes through, and Buffer.from is faster than the
  // TextEncoder call it would make per string.
  if (type === "STRING") return Buffer.from(typeof v === "string" ? v : String(v), "utf8");
  if (type === "DOUBLE") {
    const n = Number(v);
    return Number.isNaN(n) ? null : n;
  }
  if (typeof v === "bigint") return v;
  const n = Number(v);
  return Number.isFinite(n) ? BigInt(Math.trunc(n)) : null;
}

/**
 * A hyparquet-writer Writer that streams to a file descriptor in 1 MiB writes (constant memory). It
 * flushes before any append that would not fit, so the buffer grows only for a single append larger
 * than it (flushing past 1 MiB instead let page-sized appends double it to 4–8 MiB).
 */
function fdWriter(fd: number): Writer {
  const writer = new ByteWriter(1 << 20);
  const flush = () => {
    if (writer.index > 0) fs.writeSync(fd, new Uint8Array(writer.buffer, 0, writer.index));
    writer.index = 0;
  };
  const grow = ByteWriter.prototype.ensure;
  writer.ensure = function ensure(size: number) {
    if (writer.index > 0 && writer.index + size > writer.buffer.byteLength) flush();
    grow.call(writer, size);
  };
  const out: Writer = writer;
  out.flush = flush;
  out.finish = flush;
  return out;
}

/**
 * Output rows per row group. The writer holds one group's rows until it is encoded, and encoding one
 * (a Buffer per string, pages, compression) is the largest allocation of a fetch: 100k LAION rows held
 * ~40 MB; measured peak RSS over 1M rows read, 100k kept: 20k-row groups 151 MB, 10k 146, 5k 137, 2.5k
 * 134, at the same speed (session 5); again with today's reader, three alternating rounds: 5k 107 MB,
 * 2.5k 102 MB. Smaller groups change only the file's layout, not its rows: readers (pyarrow, hyparquet,
 * the downloader, img2dataset, which reads rows) take any group size, and range-read it through its
 * offset indexes either way; the footer grows by ~1.5 KB a group (400 groups per 1M rows kept).
 */
export const DEFAULT_ROW_GROUP_SIZE = 2_500;

export interface WriteFilteredParams {
  /** Rows, or batches of rows, e.g. fetchLaion(...).batches. */
  rows: AsyncIterable<LaionRow | readonly LaionRow[]>;
  /** Final path; the file appears there only when complete (temp file + rename). */
  outPath: string;
  /** Rows per row group (default 2 500): the rows of one group are what the writer holds in memory. */
  rowGroupSize?: number;
  /** Output columns; by default those of the first row (URL, TEXT, then LAION columns). */
  columns?: readonly OutputColumn[];
  /** Lets the sink manage the process's memory (a GC step); off by default, see `FetchMemoryParams`. */
  memory?: FetchMemoryParams;
}

/**
 * Streaming parquet sink: rows are buffered up to one row group, encoded with hyparquet-writer
 * (snappy) and written out, so memory stays bounded whatever the row count. Written to
 * `<outPath>.tmp-<pid>` and renamed into place at the end; on error the temp file is removed
 * and nothing appears under `outPath`.
 */
export async function writeFiltered(params: WriteFilteredParams): Promise<{ rows: number; path: string }> {
  const rowGroupSize = params.rowGroupSize ?? DEFAULT_ROW_GROUP_SIZE;
  if (!Number.isInteger(rowGroupSize) || rowGroupSize < 1)
    throw new FetchError(`rowGroupSize must be an integer >= 1, got ${rowGroupSize}`);
  const tick = memoryTick(params.memory);
  const tmp = `${params.outPath}.tmp-${process.pid}`;
  let fd: number;
  try {
    fd = fs.openSync(tmp, "w");
  } catch (err) {
    throw new FetchError(describeFsError(err, { action: "writing", file: params.outPath }), { cause: err });
  }
  let columns = params.columns ? [...params.columns] : undefined;
  let writer: SpoolingParquetWriter | undefined;
  let buffer: unknown[][] = [];
  let buffered = 0;
  let total = 0;

  const start = (cols: OutputColumn[]) => {
    columns = cols;
    buffer = cols.map(() => []);
    const probe: ColumnSource[] = cols.map((c) => ({ name: c.name, data: [], type: c.type, nullable: true }));
    writer = new SpoolingParquetWriter({
      writer: fdWriter(fd),
      // each written group's metadata waits there for the footer, not in memory (flat at any row count)
      spoolPath: `${tmp}.groups`,
      schema: schemaFromColumnData({ columnData: probe }),
      compressors: { SNAPPY: compressor() },
    });
  };
  const flushGroup = async () => {
    if (!writer || !columns || buffered === 0) return;
    const columnData: ColumnSource[] = columns.map((c, j) => ({
      name: c.name,
      data: buffer[j]!.map((v) => convert(c.type, v)),
      type: c.type,
      nullable: true,
      // min/max of URLs and captions help no reader and cost a string comparison per row
      statistics: c.type !== "STRING",
    }));
    await writer.write({ columnData, rowGroupSize });
    buffer = columns.map(() => []);
    buffered = 0;
  };
  /** Buffers one row; true when a row group is full (kept synchronous: it runs per row). */
  const push = (row: LaionRow): boolean => {
    if (!writer) start(columns ?? columnsFromRow(row));
    const cols = columns!;
    for (let j = 0; j < cols.length; j++) {
      const c = cols[j]!;
      // kept as read (the decoded strings are already in memory); converted when the group is written
      buffer[j]!.push(row[c.name]);
    }
    buffered++;
    total++;
    return buffered >= rowGroupSize;
  };

  try {
    for await (const item of params.rows) {
      tick?.();
      if (Array.isArray(item)) {
        for (const row of item as readonly LaionRow[]) if (push(row)) await flushGroup();
      } else if (push(item as LaionRow)) await flushGroup();
    }
    if (!writer)
      start(
        columns ?? [
          { name: "URL", type: "STRING" },
          { name: "TEXT", type: "STRING" },
        ],
      );
    await flushGroup();
    await writer!.finish();
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, params.outPath);
  } catch (err) {
    try {
      fs.closeSync(fd);
    } catch {}
    writer?.discard();
    fs.rmSync(tmp, { force: true });
    // fd writes carry no path: name the file (ENOSPC → "disk full writing filtered.parquet in data/laion")
    if ((err as NodeJS.ErrnoException).code && !(err instanceof FetchError))
      throw new FetchError(describeFsError(err, { action: "writing", file: params.outPath }), { cause: err });
    throw err;
  }
  return { rows: total, path: params.outPath };
}
