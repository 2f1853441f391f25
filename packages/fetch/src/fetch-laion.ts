import { createRng, seedFrom, shuffleInPlace } from "@laion/mixer";
import type { DecodedArray } from "hyparquet";
import { bufferShuffle } from "./batch-shuffle.js";
import { BloomFilter, DEFAULT_DEDUPE_FPR } from "./bloom.js";
import { type ColumnMap, detectColumns, OUTPUT_ORDER } from "./columns.js";
import { FetchError } from "./errors.js";
import { buildFilters, type FilterParams } from "./filters.js";
import type { HttpParams } from "./http.js";
import { type OpenedParquet, openParquet } from "./open-parquet.js";
import { readBatches } from "./read-batches.js";
import { Scratch } from "./scratch.js";
import { type CanonicalColumn, emptyStats, type FetchStats, type LaionRow, type Source } from "./types.js";

export interface FetchLaionParams extends FilterParams, Omit<HttpParams, "counter"> {
  /** Parquet files to read, e.g. from resolveSources(). */
  sources: readonly Source[];
  /** Stop after this many kept rows; no further bytes are fetched. */
  maxSamples?: number;
  /** Read at most this many rows of each file (a sample spread over many part files). */
  maxRowsPerFile?: number;
  /** Exact URL column name (else detected from aliases). */
  urlCol?: string;
  /** Exact caption column name (else detected from aliases). */
  captionCol?: string;
  /** Drop rows whose URL was already kept (Bloom filter, bounded memory). */
  dedupeUrls?: boolean;
  /** Distinct URLs the Bloom filter is sized for (default: maxSamples, else 50M). */
  dedupeExpectedRows?: number;
  /** Target false-positive rate of the Bloom filter (default 0.001). */
  dedupeFpr?: number;
  /** Seed of every random choice (file order, row shuffle). Default 0. */
  seed?: number;
  /** Shuffle the file order and the rows within each file through a bounded buffer. */
  shuffle?: boolean;
  /** Rows held by the shuffle buffer (default 100 000). */
  shuffleBuffer?: number;
  /** Rows of the first range read inside a row group, when the file has offset indexes. */
  batchRows?: number;
  /** Largest range read (rows) that reads grow to; bounds the memory of one read. */
  maxBatchRows?: number;
  /** Source indices already finished (resume): skipped. */
  skip?: ReadonlySet<number>;
  /** Counters to continue from (resume); updated in place. */
  stats?: FetchStats;
  /** A Bloom filter already holding the URLs kept before (resume). */
  bloom?: BloomFilter;
  /** Called after each batch with the live counters (progress). */
  onProgress?: (stats: FetchStats) => void;
}

/** The rows of one input file, after filters, dedupe, shuffle and the max-samples cap. */
export interface FileRows {
  /** Index of the file in `sources`. */
  index: number;
  source: Source;
  /** Where each canonical column comes from in this file. */
  columns: ColumnMap;
  /** Physical parquet type of each source column. */
  types: Record<string, string | undefined>;
  batches: AsyncGenerator<LaionRow[]>;
}

export interface LaionStream {
  /** Rows after filters. Consume once. */
  rows: AsyncIterable<LaionRow>;
  /** The same rows in batches (faster for sinks); use instead of `rows`, not with it. */
  batches: AsyncIterable<LaionRow[]>;
  /** Live counters, final once the iteration ends. */
  stats: FetchStats;
}

/** Order in which files are read: as given, or shuffled by the seed (the same seed, the same order). */
export function fileOrder(count: number, params: { shuffle?: boolean; seed?: number }): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  return params.shuffle ? shuffleInPlace(order, createRng(params.seed ?? 0)) : order;
}

/**
 * Stream LAION rows from parquet files: footer first, then row groups with only the needed
 * columns, filters applied while streaming. Stops reading as soon as `maxSamples` rows are kept.
 *
 * ```ts
 * const { rows, stats } = fetchLaion({ sources: await resolveSources({ input: ["a.parquet"] }), minCaptionLen: 5 });
 * for await (const row of rows) console.log(row.URL, row.TEXT);
 * console.log(stats.rows_read, stats.dropped);
 * ```
 */
export function fetchLaion(params: FetchLaionParams): LaionStream {
  const stats = params.stats ?? emptyStats();
  async function* batches() {
    for await (const file of fetchLaionFiles(params, stats)) yield* file.batches;
  }
  async function* rows() {
    for await (const batch of batches()) yield* batch;
  }
  return { rows: rows(), batches: batches(), stats };
}

function validate(params: FetchLaionParams): void {
  if (params.maxSamples !== undefined && (!Number.isInteger(params.maxSamples) || params.maxSamples < 1))
    throw new FetchError(`--max-samples must be an integer >= 1, got ${params.maxSamples}`);
  if (params.sources.length === 0) throw new FetchError("no input files");
  if (
    params.maxRowsPerFile !== undefined &&
    (!Number.isInteger(params.maxRowsPerFile) || params.maxRowsPerFile < 1)
  )
    throw new FetchError(`--max-rows-per-file must be an integer >= 1, got ${params.maxRowsPerFile}`);
  if (params.shuffleBuffer !== undefined && params.shuffleBuffer < 1)
    throw new FetchError(`--shuffle-buffer must be >= 1, got ${params.shuffleBuffer}`);
}

/** The Bloom filter for `dedupeUrls`, sized from the parameters (undefined when dedupe is off). */
export function dedupeFilter(
  params: Pick<FetchLaionParams, "dedupeUrls" | "dedupeExpectedRows" | "dedupeFpr" | "maxSamples" | "bloom">,
): BloomFilter | undefined {
  if (!params.dedupeUrls) return undefined;
  return (
    params.bloom ??
    new BloomFilter({
      expectedItems: params.dedupeExpectedRows ?? params.maxSamples ?? 50_000_000,
      fpr: params.dedupeFpr ?? DEFAULT_DEDUPE_FPR,
    })
  );
}

/** What every file's steps share: the filters, the dedupe filter, the cap and the live counters. */
interface RunState {
  params: FetchLaionParams;
  stats: FetchStats;
  filters: ReturnType<typeof buildFilters>["filters"];
  bloom: BloomFilter | undefined;
  /** maxSamples, or infinity. */
  max: number;
  /** Bytes read so far in this run (updated by the readers). */
  counter: { bytes: number };
  /** Updates the time and byte counters and reports progress. */
  tick: () => void;
  /**
   * The page arrays of the files read so far, by output column, for the next file to reuse: a new set
   * per file left the last file's (~18 MB for 8 LAION columns) waiting for a full GC while the next
   * allocated its own, ~10 MB more peak RSS over 10 files than over one file of all their rows. A file
   * takes the set while it reads and gives it back when done, so two files read at once never share.
   */
  scratch: Map<CanonicalColumn, Scratch>;
}

/**
 * The per-file form of fetchLaion, used by the CLI to write one part file per input file (so a
 * resumed run can skip finished files). Each file's batches must be consumed before the next
 * file is requested.
 */
export async function* fetchLaionFiles(
  params: FetchLaionParams,
  stats: FetchStats,
): AsyncGenerator<FileRows> {
  validate(params);
  const { filters, required } = buildFilters(params);
  const counter = { bytes: 0 };
  const run: RunState = {
    params,
    stats,
    filters,
    bloom: dedupeFilter(params),
    max: params.maxSamples ?? Number.POSITIVE_INFINITY,
    counter,
    tick: progressTicker(params, stats, counter),
    scratch: new Map(),
  };
  stats.files_total = params.sources.length;
  for (const index of fileOrder(params.sources.length, params)) {
    if (params.skip?.has(index)) continue;
    if (stats.rows_kept >= run.max) {
      stats.stopped_early = true;
      break;
    }
    const source = params.sources[index]!;
    const { opened, map } = await openFile(run, source, required);
    const rows = filterFile(run, source, opened, map);
    // Per-file rng derived from the seed and the file index: a resumed run that skips finished
    // files shuffles the remaining ones exactly as an uninterrupted run would.
    const shuffled = params.shuffle
      ? bufferShuffle(rows, {
          size: params.shuffleBuffer ?? 100_000,
          rng: createRng(seedFrom(params.seed ?? 0, index)),
        })
      : rows;
    yield { index, source, columns: map, types: opened.types, batches: capBatches(run, shuffled) };
  }
  run.tick();
}

/** Keeps stats.seconds and stats.bytes_fetched current (continuing a resumed run's) and reports them. */
function progressTicker(params: FetchLaionParams, stats: FetchStats, counter: { bytes: number }) {
  const started = performance.now();
  const startSeconds = stats.seconds;
  const bytesBefore = stats.bytes_fetched;
  return () => {
    stats.bytes_fetched = bytesBefore + counter.bytes;
    stats.seconds = startSeconds + (performance.now() - started) / 1000;
    params.onProgress?.(stats);
  };
}

/** Opens one input file and finds its columns (the file is closed again if they are not there). */
async function openFile(
  run: RunState,
  source: Source,
  required: ReturnType<typeof buildFilters>["required"],
) {
  const { params, stats, counter } = run;
  const opened = await openParquet({ ...params, source, counter });
  stats.bytes_total_of_opened_files += opened.file.byteLength;
  try {
    const map = detectColumns({
      names: opened.names,
      required,
      source: source.location,
      types: opened.types,
      ...(params.urlCol !== undefined ? { urlCol: params.urlCol } : {}),
      ...(params.captionCol !== undefined ? { captionCol: params.captionCol } : {}),
    });
    return { opened, map };
  } catch (err) {
    await opened.close();
    throw err;
  }
}

/**
 * The rows of one file that pass the filters and the dedupe, batch by batch, counting what each
 * filter drops. Closes the file at the end, on error and when the consumer stops early.
 */
async function* filterFile(
  run: RunState,
  source: Source,
  opened: OpenedParquet,
  map: ColumnMap,
): AsyncGenerator<LaionRow[]> {
  const { params, stats } = run;
  const present = OUTPUT_ORDER.filter((c) => map[c] !== undefined);
  const perFile = params.maxRowsPerFile ?? Number.POSITIVE_INFINITY;
  const spare = run.scratch;
  run.scratch = new Map();
  const scratch = present.map((c) => spare.get(c) ?? new Scratch());
  try {
    for await (const batch of readBatches({
      file: opened.file,
      metadata: opened.metadata,
      columns: present.map((c) => map[c]!),
      scratch,
      ...(params.batchRows !== undefined ? { batchRows: params.batchRows } : {}),
      ...(params.maxBatchRows !== undefined ? { maxBatchRows: params.maxBatchRows } : {}),
    })) {
      const cols = present.map((c) => batch.columns[map[c]!]!);
      const length = Math.min(batch.length, perFile - batch.rowStart);
      const out: LaionRow[] = [];
      for (let i = 0; i < length; i++) {
        const row = makeRow(present, cols, i);
        if (keepRow(run, row)) out.push(row);
      }
      stats.rows_read += length;
      yield out;
      if (batch.rowStart + batch.length >= perFile) break;
    }
  } catch (err) {
    if (err instanceof FetchError) throw err;
    throw new FetchError(`${source.location}: cannot decode parquet data (${(err as Error).message})`, {
      cause: err,
    });
  } finally {
    await opened.close();
    run.scratch = new Map(present.map((c, i) => [c, scratch[i]!]));
  }
}

/** Whether a row passes every filter and the dedupe; counts the reason it is dropped. */
function keepRow(run: RunState, row: LaionRow): boolean {
  const dropped = run.stats.dropped;
  for (const f of run.filters) {
    if (!f.keep(row)) {
      dropped[f.name] = (dropped[f.name] ?? 0) + 1;
      return false;
    }
  }
  if (run.bloom?.testAndAdd(row.URL)) {
    dropped["dedupe_urls"] = (dropped["dedupe_urls"] ?? 0) + 1;
    return false;
  }
  return true;
}

/** Passes batches on until maxSamples rows are kept in all; returning closes the readers (no more requests). */
async function* capBatches(run: RunState, batches: AsyncIterable<LaionRow[]>): AsyncGenerator<LaionRow[]> {
  const { stats, max } = run;
  for await (const batch of batches) {
    const room = max - stats.rows_kept;
    const out = batch.length > room ? batch.slice(0, room) : batch;
    stats.rows_kept += out.length;
    run.tick();
    if (out.length > 0) yield out;
    if (stats.rows_kept >= max) {
      stats.stopped_early = true;
      return;
    }
  }
  stats.files_done += 1;
  run.tick();
}
const NUMERIC = new Set<CanonicalColumn>(["WIDTH", "HEIGHT", "similarity", "punsafe", "pwatermark"]);

function toNumber(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const n = typeof v === "number" ? v : Number(v);
  return Number.isNaN(n) ? null : n;
}

function makeRow(present: readonly CanonicalColumn[], cols: readonly DecodedArray[], i: number): LaionRow {
  const url = cols[0]![i];
  const text = cols[1]![i];
  const row: LaionRow = {
    URL: typeof url === "string" ? url : url == null ? "" : String(url),
    TEXT: typeof text === "string" ? text : text == null ? "" : String(text),
  };
  for (let c = 2; c < present.length; c++) {
    const name = present[c]!;
    const v = cols[c]![i];
    (row as unknown as Record<string, unknown>)[name] = NUMERIC.has(name) ? toNumber(v) : (v ?? null);
  }
  return row;
}
