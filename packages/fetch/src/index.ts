// Public API of @laion/fetch: LAION metadata (hub, part files or any parquet) → filtered rows →
// filtered.parquet, as a stream or as the whole CLI run, and the run's status for the app. Named one by
// one; the building blocks (parquet reader, HTTP client, column detection, bloom filter…) stay
// internal (tests import them from src/).
export { FetchError } from "./errors.js";
export type { FetchLaionParams, LaionStream } from "./fetch-laion.js";
export { fetchLaion } from "./fetch-laion.js";
export type { FetchLaionSubsetParams } from "./fetch-subset.js";
export { fetchLaionSubset, fetchSubsetStatus, OUTPUT_FILE, STATS_FILE } from "./fetch-subset.js";
export type { FilterParams } from "./filters.js";
export { FILTERS } from "./filters.js";
export type { FetchMemoryParams } from "./heap-hint.js";
export { OWN_PROCESS_MEMORY } from "./heap-hint.js";
export { FETCH_RUNTIME } from "./node-runtime.js";
export type { ResolveSourcesParams } from "./sources.js";
export { DEFAULT_HF_DATASET, resolveSources, SUBSETS } from "./sources.js";
export { fetchArgs } from "./to-args.js";
export type { FetchStats, LaionRow, Source } from "./types.js";
export type { WriteFilteredParams } from "./write-filtered.js";
export { writeFiltered } from "./write-filtered.js";
