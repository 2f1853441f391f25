import { FetchError } from "./errors.js";
import type { CanonicalColumn } from "./types.js";

/** Accepted source names for each output column, matched case-insensitively, first match wins. */
export const COLUMN_ALIASES: Record<CanonicalColumn, readonly string[]> = {
  URL: ["URL", "url", "image_url", "img_url"],
  TEXT: ["TEXT", "caption", "text", "txt", "alt", "alt_text"],
  WIDTH: ["WIDTH", "width", "original_width"],
  HEIGHT: ["HEIGHT", "height", "original_height"],
  similarity: ["similarity", "clip_similarity"],
  punsafe: ["punsafe", "p_unsafe"],
  pwatermark: ["pwatermark", "p_watermark"],
  hash: ["hash", "sha256", "sha256hash"],
  LANGUAGE: ["LANGUAGE", "lang", "language"],
};

export const OUTPUT_ORDER: readonly CanonicalColumn[] = [
  "URL",
  "TEXT",
  "WIDTH",
  "HEIGHT",
  "similarity",
  "punsafe",
  "pwatermark",
  "hash",
  "LANGUAGE",
];

/** Columns written by pandas/pyarrow that carry no data of ours. */
const IGNORED = /^__index_level_\d+__$/;

/** Map from canonical name to the name of that column in one source file. */
export type ColumnMap = Partial<Record<CanonicalColumn, string>>;

export interface DetectColumnsParams {
  /** Top-level column names of the file, in file order. */
  names: readonly string[];
  /** Exact source column to use as URL (--url-col). */
  urlCol?: string;
  /** Exact source column to use as TEXT (--caption-col). */
  captionCol?: string;
  /** Canonical columns a filter needs: missing ones are an error. */
  required?: readonly CanonicalColumn[];
  /** Named in error messages. */
  source: string;
  /** Physical type of each column (BYTE_ARRAY, INT32 …): URL and TEXT must hold text. */
  types?: Record<string, string | undefined>;
}

/**
 * Find URL, TEXT and the optional LAION columns in a file's schema. Fails with the list of the
 * columns that exist when URL/TEXT (or a column a filter needs) cannot be found.
 */
export function detectColumns(params: DetectColumnsParams): ColumnMap {
  const names = params.names.filter((n) => !IGNORED.test(n));
  const byLower = new Map<string, string>();
  for (const n of names) if (!byLower.has(n.toLowerCase())) byLower.set(n.toLowerCase(), n);
  const existing = () => `columns in ${params.source}: ${names.join(", ") || "(none)"}`;
  const map: ColumnMap = {};
  for (const canonical of OUTPUT_ORDER) {
    const override =
      canonical === "URL" ? params.urlCol : canonical === "TEXT" ? params.captionCol : undefined;
    if (override !== undefined) {
      if (!names.includes(override)) {
        const flag = canonical === "URL" ? "--url-col" : "--caption-col";
        throw new FetchError(`${flag} ${override}: no such column; ${existing()}`);
      }
      map[canonical] = override;
      continue;
    }
    for (const alias of COLUMN_ALIASES[canonical]) {
      const hit = byLower.get(alias.toLowerCase());
      if (hit !== undefined) {
        map[canonical] = hit;
        break;
      }
    }
  }
  if (!map.URL)
    throw new FetchError(
      `no URL column (looked for ${COLUMN_ALIASES.URL.join(", ")}; set --url-col); ${existing()}`,
    );
  if (!map.TEXT)
    throw new FetchError(
      `no caption column (looked for ${COLUMN_ALIASES.TEXT.join(", ")}; set --caption-col); ${existing()}`,
    );
  for (const [canonical, flag] of [
    ["URL", "--url-col"],
    ["TEXT", "--caption-col"],
  ] as const) {
    const type = params.types?.[map[canonical]!];
    if (type !== undefined && type !== "BYTE_ARRAY")
      throw new FetchError(
        `${canonical} column ${map[canonical]} in ${params.source} holds ${type} values, not text; choose another with ${flag}`,
      );
  }
  for (const need of params.required ?? []) {
    if (!map[need])
      throw new FetchError(
        `a filter needs the ${need} column (aliases ${COLUMN_ALIASES[need].join(", ")}), which is missing; ${existing()}`,
      );
  }
  return map;
}
