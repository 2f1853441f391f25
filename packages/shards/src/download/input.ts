import fs from "node:fs";
import path from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { glob } from "tinyglobby";
import { createS3Client, type S3Options } from "../read/s3.js";
import {
  formatFromPath,
  INPUT_FORMATS,
  type InputFormat,
  openRecordSource,
  type RecordSource,
  type ShouldRead,
} from "./input-formats.js";
import { type InputIo, isRemoteInput, listS3Inputs } from "./input-source.js";
import type { WorkerSlot } from "./workers.js";

export interface InputParams extends S3Options {
  /**
   * One or several inputs, each a file, a folder or an `s3://bucket/prefix/` (its files of the input format,
   * or of any known format, sorted), a glob (`meta/part-*.parquet`, sorted), or an `http(s)://` / `s3://` URL.
   * csv/tsv/jsonl/txt may be gzip (`.gz`) or zstd (`.zst`) compressed.
   */
  input: string | readonly string[];
  /** Default: from each file's extension (.parquet, .csv, .tsv, .jsonl/.ndjson, .txt). */
  inputFormat?: InputFormat;
  /** URL column. Default "URL", else a case-insensitive "url". */
  urlCol?: string;
  /** Caption column. Default "TEXT", else a case-insensitive "caption" or "text"; `null`: no captions. */
  captionCol?: string | null;
  /** Input columns copied into each sample's .json and the shard parquet. */
  saveAdditionalColumns?: readonly string[];
  /** Endpoint of an S3-compatible store for `s3://` inputs (default: the AWS environment variables). */
  s3Endpoint?: string;
  s3Client?: S3Client;
}

/**
 * One input row and its place in the output. As in img2dataset, every input file starts a new shard, and a
 * row's shard and index depend only on its file and line: the key of a sample never depends on timing.
 */
export interface InputRow {
  shardId: number;
  indexInShard: number;
  url: string;
  caption: string | null;
  /** The additional columns, under the names asked for. */
  extra: Record<string, unknown>;
}

/** Whether a shard's rows are needed (ours and not finished yet); unwanted parquet row groups are never read. */
export type WantShard = (shardId: number) => boolean | Promise<boolean>;

export interface OpenedInput {
  files: { file: string; format: InputFormat; columns: string[]; rowCount?: number }[];
  /** Total rows when every file is parquet (known without reading rows). */
  rowCount?: number;
  hasCaptions: boolean;
  additionalColumns: string[];
  rows(params: { shardSize: number; wantShard?: WantShard; fileSplit?: WorkerSlot }): AsyncIterable<InputRow>;
}

/** A problem with the input files or their columns: raised before anything is downloaded. */
export class InputError extends Error {
  override name = "InputError";
}

const GLOB_CHARS = /[*?[\]{}]/;

function inFormat(name: string, format: InputFormat | undefined): boolean {
  return format
    ? formatFromPath(name) === format || name.endsWith(`.${format}`)
    : formatFromPath(name) !== null;
}

/** Expands folders, globs and s3 prefixes into the sorted list of input files; URLs pass as they are. */
async function listInputFiles(
  input: string | readonly string[],
  format: InputFormat | undefined,
  io: InputIo,
): Promise<string[]> {
  const entries = typeof input === "string" ? [input] : [...input];
  if (entries.length === 0) throw new InputError("no input file given");
  const none = (where: string) =>
    new InputError(`${where} has no ${format ?? INPUT_FORMATS.join("/")} files`);
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.startsWith("s3://") && entry.endsWith("/")) {
      const inside = await listS3Inputs(entry, io, (key) => inFormat(key, format)).catch((error: Error) => {
        throw new InputError(`cannot list input ${entry}: ${error.message}`);
      });
      if (inside.length === 0) throw none(`input prefix ${entry}`);
      files.push(...inside);
      continue;
    }
    if (isRemoteInput(entry)) {
      files.push(entry);
      continue;
    }
    const stat = fs.statSync(entry, { throwIfNoEntry: false });
    if (!stat && GLOB_CHARS.test(entry)) {
      const found = await glob(entry, {
        onlyFiles: true,
        absolute: path.isAbsolute(entry),
        expandDirectories: false,
      });
      if (found.length === 0) throw new InputError(`input glob ${entry} matched no files`);
      files.push(...found.sort());
    } else if (!stat) {
      throw new InputError(`input file not found: ${entry}`);
    } else if (stat.isDirectory()) {
      const inside = fs
        .readdirSync(entry)
        .filter((f) => inFormat(f, format))
        .sort()
        .map((f) => path.join(entry, f));
      if (inside.length === 0) throw none(`input folder ${entry}`);
      files.push(...inside);
    } else files.push(entry);
  }
  return files;
}

/** S3 access for `s3://` inputs, created on first use. */
function inputIo(params: InputParams): InputIo {
  let client = params.s3Client;
  return {
    s3Client: () => {
      client ??= createS3Client({
        ...(params.region ? { region: params.region } : {}),
        ...(params.credentials ? { credentials: params.credentials } : {}),
        ...((params.s3Endpoint ?? params.endpoint) ? { endpoint: params.s3Endpoint ?? params.endpoint } : {}),
      });
      return client;
    },
  };
}

/** Finds a column: the exact name first, then a unique case-insensitive match. */
function findColumn(columns: readonly string[], name: string): string | null {
  if (columns.includes(name)) return name;
  const matches = columns.filter((c) => c.toLowerCase() === name.toLowerCase());
  return matches.length === 1 ? matches[0]! : null;
}

function describeColumns(columns: readonly string[]): string {
  return columns.length ? columns.map((c) => JSON.stringify(c)).join(", ") : "(none)";
}

interface Resolved {
  url: string;
  caption: string | null;
  extra: string[];
}

function resolveColumns(source: RecordSource, params: InputParams): Resolved {
  const { file, columns } = source;
  const missing = (what: string) =>
    new InputError(`input file ${file} has no ${what}; its columns are: ${describeColumns(columns)}`);

  let url: string | null;
  if (params.urlCol !== undefined) {
    url = findColumn(columns, params.urlCol);
    if (!url) throw missing(`column "${params.urlCol}" (--url-col)`);
  } else {
    url = findColumn(columns, "URL") ?? findColumn(columns, "url");
    if (!url) throw missing(`URL column (looked for "URL"/"url"; choose one with --url-col)`);
  }

  let caption: string | null = null;
  if (params.captionCol !== undefined && params.captionCol !== null && params.captionCol !== "") {
    caption = findColumn(columns, params.captionCol);
    if (!caption) throw missing(`column "${params.captionCol}" (--caption-col)`);
  } else if (params.captionCol === undefined && source.format !== "txt") {
    caption = findColumn(columns, "TEXT") ?? findColumn(columns, "caption") ?? findColumn(columns, "text");
    if (!caption)
      throw missing(
        `caption column (looked for "TEXT"/"caption"/"text"; choose one with --caption-col, or --caption-col "" for none)`,
      );
  }

  for (const [column, flag] of [
    [url, "--url-col"],
    [caption, "--caption-col"],
  ] as const) {
    const type = column === null ? undefined : source.types?.[column];
    if (type !== undefined && type !== "BYTE_ARRAY")
      throw new InputError(
        `column "${column}" of input file ${file} holds ${type} values, not text; choose another with ${flag}`,
      );
  }

  const extra: string[] = [];
  for (const name of params.saveAdditionalColumns ?? []) {
    const found = findColumn(columns, name);
    if (!found) throw missing(`column "${name}" (--save-additional-columns)`);
    extra.push(found);
  }
  return { url, caption, extra };
}

/** The records, with a damaged file's decoding errors turned into InputErrors that name it. */
async function* namedErrors<T>(source: RecordSource, records: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* records;
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`cannot read ${source.format} input ${source.file}: ${(err as Error).message}`);
  }
}

function asText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (value instanceof Uint8Array) return Buffer.from(value).toString("utf8");
  return String(value);
}

/**
 * Opens the input files and checks their columns — all of them, before a single download — with errors that
 * name the file, the missing column, the flag and the columns that do exist. Rows then stream file by file.
 */
export async function openInput(params: InputParams): Promise<OpenedInput> {
  if (params.inputFormat && !INPUT_FORMATS.includes(params.inputFormat))
    throw new InputError(
      `unknown input format "${params.inputFormat}"; use one of: ${INPUT_FORMATS.join(", ")}`,
    );
  const io = inputIo(params);
  const files = await listInputFiles(params.input, params.inputFormat, io);
  const opened: { source: RecordSource; resolved: Resolved }[] = [];
  for (const file of files) {
    const format = params.inputFormat ?? formatFromPath(file);
    if (!format)
      throw new InputError(
        `cannot tell the format of ${file} from its extension; use --input-format ${INPUT_FORMATS.join("|")}`,
      );
    let source: RecordSource;
    try {
      source = await openRecordSource(file, format, io);
    } catch (err) {
      throw new InputError(`cannot read ${format} input ${file}: ${(err as Error).message}`);
    }
    opened.push({ source, resolved: resolveColumns(source, params) });
  }
  const hasCaptions = opened.every((o) => o.resolved.caption !== null);
  // additional columns keep the names the user gave, whatever their case in each file
  const additionalColumns = [...(params.saveAdditionalColumns ?? [])];
  const counts = opened.map((o) => o.source.rowCount);
  const rowCount = counts.every((c) => c !== undefined) ? counts.reduce((a, b) => a + b, 0) : undefined;
  if (rowCount === 0)
    throw new InputError(`no rows: ${files.join(", ")} ${files.length === 1 ? "has" : "have"} 0 rows`);

  return {
    files: opened.map(({ source }) => ({
      file: source.file,
      format: source.format,
      columns: source.columns,
      ...(source.rowCount !== undefined ? { rowCount: source.rowCount } : {}),
    })),
    ...(rowCount !== undefined ? { rowCount } : {}),
    hasCaptions,
    additionalColumns,
    async *rows({ shardSize, wantShard, fileSplit }) {
      // By shard: files follow one another in one sequence of shard ids. By file (`fileSplit`): this worker
      // reads only its files (index ≡ I mod N) and numbers their shards I, I+N, I+2N, … — disjoint from every
      // other worker's without knowing the row counts of files it never reads.
      const mine = fileSplit
        ? opened.filter((_, i) => i % fileSplit.workerCount === fileSplit.workerIndex)
        : opened;
      const step = fileSplit?.workerCount ?? 1;
      let firstShard = fileSplit?.workerIndex ?? 0;
      for (const { source, resolved } of mine) {
        const base = firstShard;
        const shardOf = (index: number) => base + step * Math.floor(index / shardSize);
        // [start, end) rows of this file → does any shard they fall in matter?
        const shouldRead: ShouldRead | undefined = wantShard
          ? async (start, end) => {
              for (let s = Math.floor(start / shardSize); s <= Math.floor((end - 1) / shardSize); s++)
                if (await wantShard(base + step * s)) return true;
              return false;
            }
          : undefined;
        const count = source.rowCount;
        if (count !== undefined && (count === 0 || (shouldRead && !(await shouldRead(0, count))))) {
          firstShard += step * Math.ceil(count / shardSize);
          continue;
        }
        const wanted = [resolved.url, ...(resolved.caption ? [resolved.caption] : []), ...resolved.extra];
        let rows = 0;
        for await (const { index, record } of namedErrors(
          source,
          source.records({ wanted, ...(shouldRead ? { shouldRead } : {}) }),
        )) {
          const extra: Record<string, unknown> = {};
          resolved.extra.forEach((col, i) => {
            extra[additionalColumns[i] ?? col] = record[col] ?? null;
          });
          yield {
            shardId: shardOf(index),
            indexInShard: index % shardSize,
            url: asText(record[resolved.url]),
            caption: resolved.caption ? asText(record[resolved.caption]) : null,
            extra,
          };
          rows = index + 1;
        }
        firstShard += step * Math.ceil((count ?? rows) / shardSize);
      }
    },
  };
}
