import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describeFsError } from "@laion/cli-kit";
import { parquetMetadataAsync } from "hyparquet";
import { BloomFilter } from "./bloom.js";
import { FetchError } from "./errors.js";
import { type FetchLaionParams, fetchLaionFiles } from "./fetch-laion.js";
import { localBuffer } from "./open-parquet.js";
import { readBatches } from "./read-batches.js";
import { type ResolveSourcesParams, resolveSources } from "./sources.js";
import { emptyStats, type FetchStats, type LaionRow } from "./types.js";
import { type OutputColumn, outputColumns, writeFiltered } from "./write-filtered.js";

export const OUTPUT_FILE = "filtered.parquet";
export const STATS_FILE = "fetch_stats.json";
export const PROGRESS_FILE = ".fetch-progress.json";
export const PARTS_DIR = ".fetch-parts";

export interface FetchLaionSubsetParams
  extends Omit<FetchLaionParams, "sources" | "skip" | "stats" | "bloom">,
    Omit<ResolveSourcesParams, "fetch"> {
  /** Directory for filtered.parquet and fetch_stats.json (created if missing). */
  outDir: string;
  /** Continue a crashed run with the same arguments: finished input files are skipped. */
  resume?: boolean;
  /** Rows per output row group (default 100 000). */
  rowGroupSize?: number;
  /** Messages for the user (resume notices). */
  onLog?: (message: string) => void;
}

/** What the progress file holds; small JSON, rewritten atomically after each finished input file. */
interface Progress {
  version: 1;
  fingerprint: string;
  columns: OutputColumn[] | null;
  /** Finished input files in the order they were processed, with the rows their part holds. */
  done: { index: number; rows: number }[];
  stats: FetchStats;
  complete: boolean;
}

function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new FetchError(describeFsError(err, { action: "writing", file }), { cause: err });
  }
}

function ensureWritableDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
    const probe = path.join(dir, `.write-probe-${process.pid}`);
    fs.writeFileSync(probe, "");
    fs.rmSync(probe);
  } catch (err) {
    throw new FetchError(`--out-dir ${dir} is not writable (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
}

/** Everything that changes which rows end up in the output; a resumed run must match it. */
function fingerprint(params: FetchLaionSubsetParams, locations: string[]): string {
  const keys = [
    "maxSamples",
    "maxRowsPerFile",
    "urlCol",
    "captionCol",
    "dedupeUrls",
    "dedupeExpectedRows",
    "dedupeFpr",
    "seed",
    "shuffle",
    "shuffleBuffer",
    "minCaptionLen",
    "maxCaptionLen",
    "minWidth",
    "minHeight",
    "maxAspectRatio",
    "maxPunsafe",
    "maxPwatermark",
    "minSimilarity",
    "lang",
  ] as const;
  const picked: Record<string, unknown> = { locations };
  for (const k of keys) if (params[k] !== undefined) picked[k] = params[k];
  return createHash("sha256").update(JSON.stringify(picked)).digest("hex").slice(0, 16);
}

function partPath(dir: string, index: number): string {
  return path.join(dir, PARTS_DIR, `part-${String(index).padStart(5, "0")}.parquet`);
}

/** Read back one of our own part files as rows (used to merge and to re-seed the dedupe filter). */
async function* readPart(file: string, columns: readonly OutputColumn[]): AsyncGenerator<LaionRow[]> {
  const buf = await localBuffer(file);
  try {
    const metadata = await parquetMetadataAsync(buf);
    const names = columns.map((c) => c.name);
    for await (const batch of readBatches({ file: buf, metadata, columns: names })) {
      const cols = names.map((n) => batch.columns[n]!);
      const out: LaionRow[] = new Array(batch.length);
      for (let i = 0; i < batch.length; i++) {
        const row: Record<string, unknown> = {};
        for (let j = 0; j < names.length; j++) row[names[j]!] = cols[j]![i];
        out[i] = row as unknown as LaionRow;
      }
      yield out;
    }
  } finally {
    await buf.close();
  }
}

/**
 * The `fetch-laion-subset` command as a function: resolve the sources, stream and filter them,
 * write `outDir/filtered.parquet` and `outDir/fetch_stats.json`.
 *
 * Crash safety: each input file's kept rows go to their own part file (`.fetch-parts/part-<i>`,
 * written to a temp name and renamed), and `.fetch-progress.json` records the finished files.
 * `resume: true` skips those files and re-reads an unfinished one from its start, so no row is
 * written twice. At the end the parts are merged, in order, into filtered.parquet (temp + rename).
 */
export async function fetchLaionSubset(
  params: FetchLaionSubsetParams,
): Promise<{ stats: FetchStats; outPath: string; statsPath: string }> {
  if (params.maxSamples !== undefined && (!Number.isInteger(params.maxSamples) || params.maxSamples < 1))
    throw new FetchError(`--max-samples must be an integer >= 1, got ${params.maxSamples}`);
  const outDir = params.outDir;
  ensureWritableDir(outDir);
  const outPath = path.join(outDir, OUTPUT_FILE);
  const statsPath = path.join(outDir, STATS_FILE);
  const progressPath = path.join(outDir, PROGRESS_FILE);
  const partsDir = path.join(outDir, PARTS_DIR);

  const sources = await resolveSources(params);
  const fp = fingerprint(
    params,
    sources.map((s) => s.location),
  );

  let progress: Progress | undefined;
  if (params.resume && fs.existsSync(progressPath)) {
    progress = JSON.parse(fs.readFileSync(progressPath, "utf8")) as Progress;
    if (progress.fingerprint !== fp)
      throw new FetchError(
        `${progressPath} was written by a run with other inputs or filters; rerun with the same arguments, or without --resume to start over`,
      );
    if (progress.complete && fs.existsSync(outPath)) {
      params.onLog?.(`already complete: ${outPath} (${progress.stats.rows_kept} rows)`);
      return { stats: progress.stats, outPath, statsPath };
    }
    params.onLog?.(
      `resuming: ${progress.done.length} of ${sources.length} input files done, ${progress.stats.rows_kept} rows kept`,
    );
  } else {
    // A fresh run: clear what an earlier run left, so no old result can pass for this one's.
    for (const f of [progressPath, outPath, statsPath]) fs.rmSync(f, { force: true });
    fs.rmSync(partsDir, { recursive: true, force: true });
    progress = { version: 1, fingerprint: fp, columns: null, done: [], stats: emptyStats(), complete: false };
  }
  fs.mkdirSync(partsDir, { recursive: true });
  for (const f of fs.readdirSync(partsDir)) if (f.includes(".tmp-")) fs.rmSync(path.join(partsDir, f));

  const stats: FetchStats = {
    ...progress.stats,
    dropped: { ...progress.stats.dropped },
    stopped_early: false,
  };
  let bloom: BloomFilter | undefined;
  if (params.dedupeUrls) {
    bloom = new BloomFilter({
      expectedItems: params.dedupeExpectedRows ?? params.maxSamples ?? 50_000_000,
      fpr: params.dedupeFpr ?? 0.001,
    });
    // The filter is not saved: rebuild it from the URLs already written (same bits, same result).
    for (const d of progress.done)
      for await (const batch of readPart(partPath(outDir, d.index), progress.columns ?? []))
        for (const row of batch) bloom.testAndAdd(row.URL);
  }

  const files = fetchLaionFiles(
    {
      ...params,
      sources,
      skip: new Set(progress.done.map((d) => d.index)),
      stats,
      ...(bloom ? { bloom } : {}),
    },
    stats,
  );
  for await (const file of files) {
    const columns = progress.columns ?? outputColumns(file.columns, file.types);
    progress.columns = columns;
    const { rows } = await writeFiltered({
      rows: file.batches,
      outPath: partPath(outDir, file.index),
      columns,
      ...(params.rowGroupSize !== undefined ? { rowGroupSize: params.rowGroupSize } : {}),
    });
    progress.done.push({ index: file.index, rows });
    progress.stats = stats;
    writeJsonAtomic(progressPath, progress);
  }

  // Merge the parts, in processing order, into the final file.
  const columns = progress.columns ?? [
    { name: "URL", type: "STRING" },
    { name: "TEXT", type: "STRING" },
  ];
  const parts = progress.done.map((d) => partPath(outDir, d.index));
  if (parts.length === 1) {
    // One part: hard-link it into place (no copy; the part stays until the run is marked complete).
    const tmp = `${outPath}.tmp-${process.pid}`;
    fs.rmSync(tmp, { force: true });
    fs.linkSync(parts[0]!, tmp);
    fs.renameSync(tmp, outPath);
  } else {
    async function* merged() {
      for (const p of parts) yield* readPart(p, columns);
    }
    await writeFiltered({
      rows: merged(),
      outPath,
      columns,
      ...(params.rowGroupSize !== undefined ? { rowGroupSize: params.rowGroupSize } : {}),
    });
  }
  writeJsonAtomic(statsPath, stats);
  progress.stats = stats;
  progress.complete = true;
  writeJsonAtomic(progressPath, progress);
  fs.rmSync(partsDir, { recursive: true, force: true });
  return { stats, outPath, statsPath };
}
