import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import {
  acquireOutputLock,
  type Difference,
  describeFsError,
  manifestDifferences,
  moveAside,
  newManifest,
  OutputChangedError,
  readManifest,
  writeFileAtomicSync,
  writeManifest,
} from "@laion/cli-kit";
import { parquetMetadataAsync } from "hyparquet";
import { FetchError } from "./errors.js";
import { dedupeFilter, type FetchLaionParams, fetchLaionFiles } from "./fetch-laion.js";
import { FILTER_KEYS } from "./filters.js";
import { checkMemoryParams, type FetchMemoryParams } from "./heap-hint.js";
import { localBuffer } from "./open-parquet.js";
import { readBatches } from "./read-batches.js";
import {
  type FetchOutputParams,
  fetchFlagNames,
  fetchInputs,
  fetchManifestParams,
  fetchStatus,
  MANIFEST_FILE,
  ROW_PARAMS,
} from "./run-manifest.js";
import { Scratch } from "./scratch.js";
import { type ResolveSourcesParams, resolveSources } from "./sources.js";
import { emptyStats, type FetchStats, type LaionRow, type Source } from "./types.js";
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
  /** Rows per output row group (default 2 500, `DEFAULT_ROW_GROUP_SIZE`). */
  rowGroupSize?: number;
  /**
   * Lets the fetch manage its process's memory (a concurrent full GC every `gcStepMb` of old-generation
   * growth). Off by default: it acts on the whole process. `OWN_PROCESS_MEMORY` is what the bin uses.
   */
  memory?: FetchMemoryParams;
  /** Messages for the user (resume notices). */
  onLog?: (message: string) => void;
  /**
   * The folder holds a result made with other output-affecting parameters or inputs: build the new one
   * anyway and keep the old as `filtered.parquet.prev-<n>` (+ its stats). Without it such a run is refused.
   */
  overwrite?: boolean;
}

/** What the progress file holds; small JSON, rewritten atomically after each finished input file. */
interface Progress {
  version: 1;
  fingerprint: string;
  columns: OutputColumn[] | null;
  /** The run's output-affecting parameters and inputs (what `fetchStatus` compares). */
  params?: ReturnType<typeof fetchManifestParams>;
  inputs?: ReturnType<typeof fetchInputs>;
  /** Finished input files in the order they were processed, with the rows their part holds. */
  done: { index: number; rows: number }[];
  stats: FetchStats;
  complete: boolean;
}

function writeJsonAtomic(file: string, value: unknown): void {
  try {
    writeFileAtomicSync(file, `${JSON.stringify(value, null, 2)}\n`);
  } catch (err) {
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
  // the run manifest's list, in the same order (the fingerprint of an existing progress file must not move)
  const keys = [...ROW_PARAMS, ...FILTER_KEYS] as const;
  const picked: Record<string, unknown> = { locations };
  for (const k of keys) if (params[k] !== undefined) picked[k] = params[k];
  return createHash("sha256").update(JSON.stringify(picked)).digest("hex").slice(0, 16);
}

function partPath(dir: string, index: number): string {
  return path.join(dir, PARTS_DIR, `part-${String(index).padStart(5, "0")}.parquet`);
}

/**
 * Read back one of our own part files as rows (used to merge and to re-seed the dedupe filter). Parts
 * read one after another pass the same `scratch` (one per column), so each does not allocate its own
 * page arrays while the last part's wait for a full GC.
 */
async function* readPart(
  file: string,
  columns: readonly OutputColumn[],
  scratch: readonly Scratch[],
): AsyncGenerator<LaionRow[]> {
  const buf = await localBuffer(file);
  try {
    const metadata = await parquetMetadataAsync(buf);
    const names = columns.map((c) => c.name);
    for await (const batch of readBatches({ file: buf, metadata, columns: names, scratch })) {
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
  checkMemoryParams(params.memory);
  const outDir = params.outDir;
  ensureWritableDir(outDir);
  // one writer per output folder: a second fetch on it is refused, naming the first
  const lock = acquireOutputLock(path.join(outDir, ".fetch.lock"), {
    purpose: "fetch-laion-subset",
    ...(params.onLog ? { onLog: params.onLog } : {}),
  });
  try {
    return await fetchInto(params);
  } finally {
    lock.release();
  }
}

/** What `outDir` holds for these parameters (complete / partial / changed / missing); see fetchStatus. */
export function fetchSubsetStatus(params: FetchOutputParams & { outDir: string }) {
  return fetchStatus(params.outDir, params, { progress: path.join(params.outDir, PROGRESS_FILE) });
}

/** The differences between the finished result in `outDir` and this request ([] when none or the same). */
function resultDifferences(outDir: string, params: FetchOutputParams): Difference[] {
  const recorded = readManifest(path.join(outDir, MANIFEST_FILE));
  return recorded ? manifestDifferences(recorded, fetchManifestParams(params), fetchInputs(params)) : [];
}

/** Where a fetch run keeps its result and its staging inside `outDir`. */
interface OutputPaths {
  outDir: string;
  outPath: string;
  statsPath: string;
  progressPath: string;
  partsDir: string;
}

interface FetchResult {
  stats: FetchStats;
  outPath: string;
  statsPath: string;
}

async function fetchInto(params: FetchLaionSubsetParams): Promise<FetchResult> {
  const outDir = params.outDir;
  const paths: OutputPaths = {
    outDir,
    outPath: path.join(outDir, OUTPUT_FILE),
    statsPath: path.join(outDir, STATS_FILE),
    progressPath: path.join(outDir, PROGRESS_FILE),
    partsDir: path.join(outDir, PARTS_DIR),
  };
  const changed = resultDifferences(outDir, params);
  if (changed.length > 0 && !params.overwrite)
    throw new OutputChangedError(paths.outPath, changed, fetchFlagNames(fetchManifestParams(params)));
  const finished = finishedResult(params, paths, changed);
  if (finished) return finished;

  const sources = await resolveSources(params);
  const progress = startOrResume(params, paths, sources);
  if (progress.complete && fs.existsSync(paths.outPath)) {
    params.onLog?.(`already complete: ${paths.outPath} (${progress.stats.rows_kept} rows)`);
    return { stats: progress.stats, outPath: paths.outPath, statsPath: paths.statsPath };
  }
  const stats = await writeParts(params, paths, sources, progress);
  await mergeParts(params, paths, progress);
  publish(params, paths, progress, stats, changed);
  return { stats, outPath: paths.outPath, statsPath: paths.statsPath };
}

/**
 * `--resume` on a finished result made with this very request: nothing to do, and no need for the
 * network (the hub may be gone; the app's "run this stage alone" hint must still answer).
 */
function finishedResult(
  params: FetchLaionSubsetParams,
  paths: OutputPaths,
  changed: Difference[],
): FetchResult | undefined {
  const { outPath, statsPath } = paths;
  const recorded = readManifest(path.join(paths.outDir, MANIFEST_FILE));
  if (!params.resume || changed.length > 0 || !recorded?.complete) return undefined;
  if (!fs.existsSync(outPath) || !fs.existsSync(statsPath)) return undefined;
  const stats = JSON.parse(fs.readFileSync(statsPath, "utf8")) as FetchStats;
  params.onLog?.(`already complete: ${outPath} (${stats.rows_kept} rows)`);
  return { stats, outPath, statsPath };
}

/** The progress of a run to resume (checked against this request), or a fresh one with empty staging. */
function startOrResume(params: FetchLaionSubsetParams, paths: OutputPaths, sources: Source[]): Progress {
  const { progressPath, partsDir } = paths;
  const fp = fingerprint(
    params,
    sources.map((s) => s.location),
  );
  let progress: Progress;
  if (params.resume && fs.existsSync(progressPath)) {
    progress = JSON.parse(fs.readFileSync(progressPath, "utf8")) as Progress;
    if (progress.fingerprint !== fp)
      throw new FetchError(
        `${progressPath} was written by a run with other inputs or filters; rerun with the same arguments, or without --resume to start over`,
      );
    if (!progress.complete)
      params.onLog?.(
        `resuming: ${progress.done.length} of ${sources.length} input files done, ${progress.stats.rows_kept} rows kept`,
      );
  } else {
    // A fresh run starts its own staging (progress + parts). The previous result stays in place,
    // untouched, until the new one is whole: a run that fails keeps it byte for byte.
    fs.rmSync(progressPath, { force: true });
    fs.rmSync(partsDir, { recursive: true, force: true });
    progress = {
      version: 1,
      fingerprint: fp,
      columns: null,
      params: fetchManifestParams(params),
      inputs: fetchInputs(params),
      done: [],
      stats: emptyStats(),
      complete: false,
    };
  }
  return progress;
}

/** The dedupe filter of a resumed run: not saved, rebuilt from the URLs already written (same bits). */
async function rebuildDedupe(params: FetchLaionSubsetParams, progress: Progress) {
  const bloom = dedupeFilter(params);
  if (!bloom) return undefined;
  const columns = progress.columns ?? [];
  const scratch = columns.map(() => new Scratch());
  for (const d of progress.done)
    for await (const batch of readPart(partPath(params.outDir, d.index), columns, scratch))
      for (const row of batch) bloom.testAndAdd(row.URL);
  return bloom;
}

/** Each unfinished input file's kept rows into its own part file, recording progress after each. */
async function writeParts(
  params: FetchLaionSubsetParams,
  paths: OutputPaths,
  sources: Source[],
  progress: Progress,
): Promise<FetchStats> {
  fs.mkdirSync(paths.partsDir, { recursive: true });
  for (const f of fs.readdirSync(paths.partsDir))
    if (f.includes(".tmp-")) fs.rmSync(path.join(paths.partsDir, f));
  const stats: FetchStats = {
    ...progress.stats,
    dropped: { ...progress.stats.dropped },
    stopped_early: false,
  };
  const bloom = await rebuildDedupe(params, progress);
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
      outPath: partPath(params.outDir, file.index),
      columns,
      ...(params.rowGroupSize !== undefined ? { rowGroupSize: params.rowGroupSize } : {}),
      ...(params.memory ? { memory: params.memory } : {}),
    });
    progress.done.push({ index: file.index, rows });
    progress.stats = stats;
    writeJsonAtomic(paths.progressPath, progress);
  }
  return stats;
}

/** The parts, in processing order, into one file staged beside the result (`.fetch-parts/filtered.parquet`). */
async function mergeParts(params: FetchLaionSubsetParams, paths: OutputPaths, progress: Progress) {
  const columns = progress.columns ?? [
    { name: "URL", type: "STRING" },
    { name: "TEXT", type: "STRING" },
  ];
  const parts = progress.done.map((d) => partPath(params.outDir, d.index));
  const staged = path.join(paths.partsDir, OUTPUT_FILE);
  if (parts.length === 1) {
    // One part: hard-link it (no copy; the part stays until the run is marked complete).
    fs.rmSync(staged, { force: true });
    fs.linkSync(parts[0]!, staged);
    return;
  }
  const scratch = columns.map(() => new Scratch());
  async function* merged() {
    for (const p of parts) yield* readPart(p, columns, scratch);
  }
  await writeFiltered({
    rows: merged(),
    outPath: staged,
    columns,
    ...(params.rowGroupSize !== undefined ? { rowGroupSize: params.rowGroupSize } : {}),
    ...(params.memory ? { memory: params.memory } : {}),
  });
}

/** Swaps the staged result in (a changed result's predecessor is kept), then records it as complete. */
function publish(
  params: FetchLaionSubsetParams,
  paths: OutputPaths,
  progress: Progress,
  stats: FetchStats,
  changed: Difference[],
): void {
  const { outPath, statsPath } = paths;
  if (changed.length > 0) {
    const kept = [moveAside(outPath), moveAside(statsPath)].filter(Boolean);
    params.onLog?.(`settings changed; the earlier result is kept as ${kept.join(" and ")}`);
  }
  fs.renameSync(path.join(paths.partsDir, OUTPUT_FILE), outPath);
  writeJsonAtomic(statsPath, stats);
  writeManifest(path.join(paths.outDir, MANIFEST_FILE), {
    ...newManifest("@laion/fetch", fetchManifestParams(params), fetchInputs(params)),
    complete: true,
    finished_at: new Date().toISOString(),
    result: { rows: stats.rows_kept },
  });
  progress.stats = stats;
  progress.complete = true;
  writeJsonAtomic(paths.progressPath, progress);
  fs.rmSync(paths.partsDir, { recursive: true, force: true });
}
