import type { CanonicalColumn, LaionRow } from "./types.js";

/** Filter thresholds, all optional; each maps to one CLI flag. */
export interface FilterParams {
  /** Keep captions with at least this many characters (Unicode code points, as Python's len). */
  minCaptionLen?: number;
  maxCaptionLen?: number;
  minWidth?: number;
  minHeight?: number;
  /** Keep rows with max(W,H)/min(W,H) ≤ this. */
  maxAspectRatio?: number;
  maxPunsafe?: number;
  maxPwatermark?: number;
  minSimilarity?: number;
  /** Keep rows whose LANGUAGE is one of these (case-insensitive). */
  lang?: readonly string[];
}

/** Every filter parameter, in the order resume fingerprints and run manifests record them. */
export const FILTER_KEYS = [
  "minCaptionLen",
  "maxCaptionLen",
  "minWidth",
  "minHeight",
  "maxAspectRatio",
  "maxPunsafe",
  "maxPwatermark",
  "minSimilarity",
  "lang",
] as const satisfies readonly (keyof FilterParams)[];

/** A pure row predicate: true keeps the row. */
export type RowPredicate = (row: LaionRow) => boolean;

export interface FilterSpec {
  /** The CLI flag that turns it on ("" for the filters that always run). */
  flag: string;
  /** Columns it reads besides URL/TEXT: a source without them is an error when the filter is on. */
  columns: readonly CanonicalColumn[];
  /** The predicate for these params, or undefined when the filter is off. */
  make(params: FilterParams): RowPredicate | undefined;
}

/** Code points, like Python's len(): surrogate pairs count once. */
export function captionLength(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) n--;
  }
  return n;
}

export function isHttpUrl(url: string): boolean {
  // Only the scheme is checked here (cheap, per row); the downloader does the full parse.
  return /^https?:\/\/[^\s/]/i.test(url);
}

const num = (v: unknown): number => (v === null || v === undefined ? Number.NaN : Number(v));

/**
 * The filter registry, in the order filters run: a dropped row is counted once, under the first
 * filter that rejects it. A row whose needed value is null/NaN is dropped (it cannot be shown to pass).
 */
export const FILTERS: Record<string, FilterSpec> = {
  url_scheme: { flag: "", columns: [], make: () => (r) => isHttpUrl(r.URL) },
  empty_caption: { flag: "", columns: [], make: () => (r) => r.TEXT.trim().length > 0 },
  min_caption_len: {
    flag: "--min-caption-len",
    columns: [],
    make: ({ minCaptionLen: min }) => (min === undefined ? undefined : (r) => captionLength(r.TEXT) >= min),
  },
  max_caption_len: {
    flag: "--max-caption-len",
    columns: [],
    make: ({ maxCaptionLen: max }) => (max === undefined ? undefined : (r) => captionLength(r.TEXT) <= max),
  },
  min_width: {
    flag: "--min-width",
    columns: ["WIDTH"],
    make: ({ minWidth: min }) => (min === undefined ? undefined : (r) => num(r.WIDTH) >= min),
  },
  min_height: {
    flag: "--min-height",
    columns: ["HEIGHT"],
    make: ({ minHeight: min }) => (min === undefined ? undefined : (r) => num(r.HEIGHT) >= min),
  },
  max_aspect_ratio: {
    flag: "--max-aspect-ratio",
    columns: ["WIDTH", "HEIGHT"],
    make: ({ maxAspectRatio: max }) =>
      max === undefined
        ? undefined
        : (r) => {
            const w = num(r.WIDTH);
            const h = num(r.HEIGHT);
            return w > 0 && h > 0 && Math.max(w, h) / Math.min(w, h) <= max;
          },
  },
  max_punsafe: {
    flag: "--max-punsafe",
    columns: ["punsafe"],
    make: ({ maxPunsafe: max }) => (max === undefined ? undefined : (r) => num(r.punsafe) <= max),
  },
  max_pwatermark: {
    flag: "--max-pwatermark",
    columns: ["pwatermark"],
    make: ({ maxPwatermark: max }) => (max === undefined ? undefined : (r) => num(r.pwatermark) <= max),
  },
  min_similarity: {
    flag: "--min-similarity",
    columns: ["similarity"],
    make: ({ minSimilarity: min }) => (min === undefined ? undefined : (r) => num(r.similarity) >= min),
  },
  lang: {
    flag: "--lang",
    columns: ["LANGUAGE"],
    make: ({ lang }) => {
      if (!lang || lang.length === 0) return undefined;
      const wanted = new Set(lang.map((l) => l.toLowerCase()));
      return (r) => typeof r.LANGUAGE === "string" && wanted.has(r.LANGUAGE.toLowerCase());
    },
  },
};

export interface ActiveFilter {
  name: string;
  keep: RowPredicate;
}

/** The filters switched on by `params`, in registry order, and the columns they need. */
export function buildFilters(params: FilterParams): { filters: ActiveFilter[]; required: CanonicalColumn[] } {
  const filters: ActiveFilter[] = [];
  const required = new Set<CanonicalColumn>();
  for (const [name, spec] of Object.entries(FILTERS)) {
    const keep = spec.make(params);
    if (!keep) continue;
    filters.push({ name, keep });
    for (const c of spec.columns) required.add(c);
  }
  return { filters, required: [...required] };
}
