import fs from "node:fs";
import path from "node:path";
import {
  type InputIdentity,
  inputIdentity,
  type JsonValue,
  manifestDifferences,
  manifestStatus,
  type RunStatus,
} from "@laion/cli-kit";
import { DEFAULT_DEDUPE_FPR } from "./bloom.js";
import type { FetchLaionParams } from "./fetch-laion.js";
import { FILTER_KEYS, type FilterParams } from "./filters.js";
import type { ResolveSourcesParams } from "./sources.js";

/** Beside filtered.parquet: what the result in the folder was made from (written when it is whole). */
export const MANIFEST_FILE = ".fetch-manifest.json";

/** The fetch parameters that change which rows end up in filtered.parquet. */
export type FetchOutputParams = Omit<ResolveSourcesParams, "fetch" | "token" | "timeoutMs"> &
  FilterParams &
  Pick<FetchLaionParams, (typeof ROW_PARAMS)[number]>;

/** fetchLaion's parameters besides the filters that change the rows (their types come from FetchLaionParams). */
export const ROW_PARAMS = [
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
] as const satisfies readonly (keyof FetchLaionParams)[];

/**
 * The output-affecting parameters, snake_case (the flag is the same name with dashes), unset as null.
 * The source is recorded as asked (input list, subset, or dataset + revision), not as resolved URLs:
 * the hub's address (a mirror, the demo's random port) does not change the rows.
 */
export function fetchManifestParams(p: FetchOutputParams): Record<string, JsonValue> {
  const v = (x: unknown): JsonValue => (x === undefined ? null : (x as JsonValue));
  const source: JsonValue = p.input?.length
    ? { input: [...p.input] }
    : p.subset
      ? { subset: p.subset, num_parts: v(p.numParts), parts_url: v(p.partsUrl) }
      : { hf_dataset: v(p.hfDataset), revision: p.revision ?? "main" };
  const filters = p as Record<string, unknown>;
  const out: Record<string, JsonValue> = {
    source,
    max_samples: v(p.maxSamples),
    max_rows_per_file: v(p.maxRowsPerFile),
    url_col: v(p.urlCol),
    caption_col: v(p.captionCol),
    dedupe_urls: p.dedupeUrls ?? false,
    // the Bloom filter's sizing only matters when it is on (the CLI always passes its default rate)
    dedupe_expected_rows: p.dedupeUrls ? v(p.dedupeExpectedRows) : null,
    dedupe_fpr: p.dedupeUrls ? (p.dedupeFpr ?? DEFAULT_DEDUPE_FPR) : null,
    seed: p.seed ?? 0,
    shuffle: p.shuffle ?? false,
    shuffle_buffer: v(p.shuffleBuffer),
  };
  for (const key of FILTER_KEYS) out[snake(key)] = v(filters[key]);
  return out;
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Each recorded key's flag, for refusals: `max_samples` → `--max-samples`, the source → `--input/--subset/--hf-dataset`. */
export function fetchFlagNames(params: Record<string, JsonValue>): Record<string, string> {
  const names: Record<string, string> = { source: "--input/--subset/--hf-dataset" };
  for (const key of Object.keys(params)) if (key !== "source") names[key] = `--${key.replaceAll("_", "-")}`;
  return names;
}

/** Local input files by size + mtime: a rewritten input is a change even under the same name. */
export function fetchInputs(p: Pick<FetchOutputParams, "input">): InputIdentity[] {
  return (p.input ?? []).map(inputIdentity);
}

/**
 * What `outDir` holds for these parameters: complete (filtered.parquet made with them), partial (a run
 * with them stopped: rerun with --resume), changed (the result there came from other parameters or
 * inputs; the differences are listed), or missing.
 */
export function fetchStatus(outDir: string, p: FetchOutputParams, files: { progress: string }): RunStatus {
  const params = fetchManifestParams(p);
  const inputs = fetchInputs(p);
  const done = manifestStatus(path.join(outDir, MANIFEST_FILE), params, inputs);
  if (done.state === "complete") {
    const rows = done.manifest?.result?.["rows"];
    return { state: "complete", detail: `${rows ?? "?"} rows in ${path.join(outDir, "filtered.parquet")}` };
  }
  // a stopped run is recorded in its progress file, with the parameters it was started with
  const progress = readProgress(files.progress);
  if (
    progress?.params &&
    manifestDifferences({ params: progress.params, inputs: progress.inputs ?? [] }, params, inputs).length ===
      0
  )
    return {
      state: "partial",
      detail: `an earlier run stopped after ${progress.done?.length ?? 0} input file(s)`,
    };
  if (done.state === "changed") return done;
  return { state: "missing", detail: `no ${path.join(outDir, "filtered.parquet")} yet` };
}

function readProgress(
  file: string,
): { params?: Record<string, JsonValue>; inputs?: InputIdentity[]; done?: unknown[] } | null {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return null;
  }
}
