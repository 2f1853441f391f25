/** One LAION row as it flows through the pipeline: `URL` and `TEXT` always, the rest when the source has them. */
export interface LaionRow {
  URL: string;
  TEXT: string;
  WIDTH?: number | null;
  HEIGHT?: number | null;
  similarity?: number | null;
  punsafe?: number | null;
  pwatermark?: number | null;
  hash?: string | bigint | number | null;
  LANGUAGE?: string | null;
}

/** Names of the columns we know about, in output order. */
export type CanonicalColumn = keyof LaionRow;

/** Where a parquet file comes from: a local path or an http(s) URL (hub resolve URLs included). */
export interface Source {
  /** Local path or URL, as read. Never contains a token (tokens travel in headers). */
  location: string;
  kind: "file" | "url";
  /** Size in bytes when the listing already told us (saves a HEAD request). */
  size?: number;
}

/** Counters for one run; written as fetch_stats.json by the CLI. */
export interface FetchStats {
  rows_read: number;
  rows_kept: number;
  /** Rows dropped, by the first filter that rejected them (filter registry name). */
  dropped: Record<string, number>;
  files_total: number;
  files_done: number;
  /** Bytes actually received from disk or network (range reads), not file sizes. */
  bytes_fetched: number;
  /** Sum of the sizes of the files opened, for comparison with bytes_fetched. */
  bytes_total_of_opened_files: number;
  seconds: number;
  stopped_early: boolean;
}

export function emptyStats(): FetchStats {
  return {
    rows_read: 0,
    rows_kept: 0,
    dropped: {},
    files_total: 0,
    files_done: 0,
    bytes_fetched: 0,
    bytes_total_of_opened_files: 0,
    seconds: 0,
    stopped_early: false,
  };
}
