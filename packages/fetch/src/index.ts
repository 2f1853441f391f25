export { bufferShuffle } from "./batch-shuffle.js";
export { BloomFilter } from "./bloom.js";
export type { ColumnMap, DetectColumnsParams } from "./columns.js";
export { COLUMN_ALIASES, detectColumns, OUTPUT_ORDER } from "./columns.js";
export { FetchError } from "./errors.js";
export type { FetchLaionParams, FileRows, LaionStream } from "./fetch-laion.js";
export { fetchLaion, fetchLaionFiles, fileOrder } from "./fetch-laion.js";
export type { FetchLaionSubsetParams } from "./fetch-subset.js";
export {
  fetchLaionSubset,
  fetchSubsetStatus,
  OUTPUT_FILE,
  PARTS_DIR,
  PROGRESS_FILE,
  STATS_FILE,
} from "./fetch-subset.js";
export type { ActiveFilter, FilterParams, FilterSpec, RowPredicate } from "./filters.js";
export { buildFilters, captionLength, FILTERS, isHttpUrl } from "./filters.js";
export type { HttpParams } from "./http.js";
export { createHttpFetch } from "./http.js";
export type { OpenedParquet } from "./open-parquet.js";
export { openParquet } from "./open-parquet.js";
export type { ColumnBatch, ReadBatchesParams } from "./read-batches.js";
export { readBatches } from "./read-batches.js";
export type { FetchOutputParams } from "./run-manifest.js";
export { fetchManifestParams, MANIFEST_FILE } from "./run-manifest.js";
export type { ResolveSourcesParams } from "./sources.js";
export {
  DEFAULT_HF_DATASET,
  DEFAULT_HUB_URL,
  defaultHubUrl,
  partUrl,
  resolveSources,
  SUBSETS,
} from "./sources.js";
export { fetchArgs } from "./to-args.js";
export type { CanonicalColumn, FetchStats, LaionRow, Source } from "./types.js";
export { emptyStats } from "./types.js";
export type { OutputColumn, OutputType, WriteFilteredParams } from "./write-filtered.js";
export { outputColumns, writeFiltered } from "./write-filtered.js";
