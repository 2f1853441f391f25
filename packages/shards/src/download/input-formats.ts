import readline from "node:readline";
import { parse } from "csv-parse";
import { parquetMetadataAsync, parquetReadObjects, parquetSchema } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { compressionOf, type InputIo, openInputBuffer, openInputStream, plainName } from "./input-source.js";

export type InputFormat = "parquet" | "csv" | "tsv" | "jsonl" | "txt";
export const INPUT_FORMATS: readonly InputFormat[] = ["parquet", "csv", "tsv", "jsonl", "txt"];

/** `[start, end)` row range of one file → whether any row of it is wanted (lets parquet skip whole row groups). */
export type ShouldRead = (start: number, end: number) => boolean | Promise<boolean>;

/** One input file opened far enough to know its columns, before any row is used. */
export interface RecordSource {
  file: string;
  format: InputFormat;
  columns: string[];
  /** Known up front for parquet. */
  rowCount?: number;
  /** Physical type of each column, where the format has types (parquet: BYTE_ARRAY, INT32 …). */
  types?: Record<string, string | undefined>;
  /** Records (column → value) with their row number in the file; ranges `shouldRead` rejects may be skipped (parquet). */
  records(params: { wanted: string[]; shouldRead?: ShouldRead }): AsyncIterable<{
    index: number;
    record: Record<string, unknown>;
  }>;
}

/** The format from the extension, looking through a `.gz` / `.zst` compression suffix (`rows.jsonl.zst`). */
export function formatFromPath(file: string): InputFormat | null {
  const m = /\.(parquet|csv|tsv|jsonl|ndjson|txt)(\.(gz|zst|zstd))?$/i.exec(plainName(file));
  if (!m) return null;
  const ext = m[1]!.toLowerCase();
  return ext === "ndjson" ? "jsonl" : (ext as InputFormat);
}

/** Rows decoded per parquet read: bounds memory for files written with huge row groups. */
const PARQUET_SLICE_ROWS = 50_000;

async function openParquet(file: string, io: InputIo): Promise<RecordSource> {
  if (compressionOf(file) !== null) {
    throw new Error(
      "a parquet file is compressed inside (per column chunk); read it as .parquet, not .gz/.zst",
    );
  }
  const buffer = await openInputBuffer(file, io);
  let metadata: Awaited<ReturnType<typeof parquetMetadataAsync>>;
  try {
    if (buffer.byteLength < 12) throw new Error("too small");
    metadata = await parquetMetadataAsync(buffer);
  } catch (err) {
    // hyparquet's own message ("Offset is outside the bounds of the DataView") says nothing to a user
    const head = Buffer.from(await buffer.slice(0, Math.min(4, buffer.byteLength))).toString("latin1");
    throw new Error(
      head === "PAR1"
        ? `truncated parquet file (starts with PAR1 but its footer is missing or damaged: ${(err as Error).message})`
        : `not a parquet file (no PAR1 magic bytes, ${buffer.byteLength} bytes)`,
    );
  }
  const children = parquetSchema(metadata).children;
  const columns = children.map((c) => c.element.name);
  return {
    file,
    format: "parquet",
    columns,
    types: Object.fromEntries(children.map((c) => [c.element.name, c.element.type])),
    rowCount: Number(metadata.num_rows),
    async *records({ wanted, shouldRead }) {
      let groupStart = 0;
      for (const group of metadata.row_groups) {
        const groupEnd = groupStart + Number(group.num_rows);
        if (!shouldRead || (await shouldRead(groupStart, groupEnd))) {
          for (let start = groupStart; start < groupEnd; start += PARQUET_SLICE_ROWS) {
            const end = Math.min(groupEnd, start + PARQUET_SLICE_ROWS);
            const rows = await parquetReadObjects({
              file: buffer,
              metadata,
              columns: wanted,
              rowStart: start,
              rowEnd: end,
              compressors,
            });
            for (let i = 0; i < rows.length; i++) yield { index: start + i, record: rows[i]! };
          }
        }
        groupStart = groupEnd;
      }
    },
  };
}

/** Pulls the first item so a reader's header is known, and replays it first. */
async function peek<T>(
  iterable: AsyncIterable<T>,
): Promise<{ first: IteratorResult<T>; rest: AsyncIterator<T> }> {
  const rest = iterable[Symbol.asyncIterator]();
  return { first: await rest.next(), rest };
}

async function openCsv(file: string, format: "csv" | "tsv", io: InputIo): Promise<RecordSource> {
  const open = async () => {
    let header: string[] = [];
    const parser = (await openInputStream(file, io)).pipe(
      parse({
        delimiter: format === "tsv" ? "\t" : ",",
        bom: true,
        relax_column_count: true,
        skip_empty_lines: true,
        // tsv has no quoting convention: a stray " must not swallow the following lines
        ...(format === "tsv" ? { quote: false } : {}),
        columns: (h: string[]) => {
          header = h.map(String);
          return header;
        },
      }),
    );
    const { first, rest } = await peek<Record<string, unknown>>(parser);
    return { header, first, rest, parser };
  };
  const probe = await open();
  probe.parser.destroy();
  return {
    file,
    format,
    columns: probe.header,
    async *records() {
      const { first, rest, parser } = await open();
      try {
        let index = 0;
        if (!first.done) yield { index: index++, record: first.value };
        for (let r = await rest.next(); !r.done; r = await rest.next())
          yield { index: index++, record: r.value };
      } finally {
        parser.destroy();
      }
    },
  };
}

async function* lines(file: string, io: InputIo): AsyncGenerator<{ line: string; lineNo: number }> {
  const stream = (await openInputStream(file, io)).setEncoding("utf8");
  const rl = readline.createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let lineNo = 0;
  try {
    for await (const line of rl)
      yield { line: lineNo === 0 ? line.replace(/^\uFEFF/, "") : line, lineNo: ++lineNo };
  } finally {
    rl.close();
    stream.destroy();
  }
}

function parseJsonLine(file: string, line: string, lineNo: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new Error(`${file}:${lineNo}: invalid JSON (${(err as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Error(`${file}:${lineNo}: expected a JSON object per line`);
  return value as Record<string, unknown>;
}

async function openJsonl(file: string, io: InputIo): Promise<RecordSource> {
  let columns: string[] = [];
  for await (const { line, lineNo } of lines(file, io)) {
    if (line.trim() === "") continue;
    columns = Object.keys(parseJsonLine(file, line, lineNo));
    break;
  }
  return {
    file,
    format: "jsonl",
    columns,
    async *records() {
      let index = 0;
      for await (const { line, lineNo } of lines(file, io)) {
        if (line.trim() === "") continue;
        yield { index: index++, record: parseJsonLine(file, line, lineNo) };
      }
    },
  };
}

async function openTxt(file: string, io: InputIo): Promise<RecordSource> {
  return {
    file,
    format: "txt",
    columns: ["url"],
    async *records() {
      let index = 0;
      // every line is a row, empty ones too (they fail as "empty URL"): keys must follow line numbers
      for await (const { line } of lines(file, io)) yield { index: index++, record: { url: line.trim() } };
    },
  };
}

/**
 * Opens one input file by format, reading only what is needed to know its columns. `file` is a local
 * path, an `http(s)://` URL or an `s3://` object; text formats may be gzip (.gz) or zstd (.zst) compressed.
 */
export async function openRecordSource(
  file: string,
  format: InputFormat,
  io: InputIo,
): Promise<RecordSource> {
  switch (format) {
    case "parquet":
      return openParquet(file, io);
    case "csv":
    case "tsv":
      return openCsv(file, format, io);
    case "jsonl":
      return openJsonl(file, io);
    case "txt":
      return openTxt(file, io);
  }
}
