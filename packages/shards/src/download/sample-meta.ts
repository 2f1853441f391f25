export type SampleStatus = "success" | "failed_to_download" | "failed_to_resize";

/**
 * What img2dataset records for every input row: in the sample's `.json` (successes) and in the shard's
 * parquet (every row). Field order as img2dataset's: additional columns, caption, url, then the results.
 */
export interface SampleMeta {
  [column: string]: unknown;
  caption?: string | null;
  url: string;
  key: string;
  status: SampleStatus;
  error_message: string | null;
  width: number | null;
  height: number | null;
  original_width: number | null;
  original_height: number | null;
  /** sha256 of the downloaded bytes (before resizing), as img2dataset's compute_hash="sha256". */
  sha256: string | null;
}

const STATUSES: readonly SampleStatus[] = ["success", "failed_to_download", "failed_to_resize"];
const STRINGS = ["url", "key"] as const;
const NULLABLE_NUMBERS = ["width", "height", "original_width", "original_height"] as const;

/**
 * Checks that a parsed `.json` member is img2dataset's sample metadata (ours or img2dataset's own) and
 * returns it as SampleMeta; throws naming the first field that is wrong. As the reader's json decoder
 * (`decode: { json: asSampleMeta }`) it types `s.json`, and a bad member goes through the handler.
 * A missing `sha256` (img2dataset run without compute_hash) reads as null.
 */
export function asSampleMeta(value: unknown): SampleMeta {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Error(`sample metadata must be a JSON object, got ${JSON.stringify(value)?.slice(0, 60)}`);
  const meta = value as Record<string, unknown>;
  const bad = (field: string, expected: string) =>
    new Error(`sample metadata: "${field}" is ${JSON.stringify(meta[field])}, expected ${expected}`);
  for (const field of STRINGS) if (typeof meta[field] !== "string") throw bad(field, "a string");
  if (!STATUSES.includes(meta.status as SampleStatus)) throw bad("status", STATUSES.join(" | "));
  if (meta.error_message !== null && typeof meta.error_message !== "string")
    throw bad("error_message", "a string or null");
  for (const field of NULLABLE_NUMBERS)
    if (meta[field] !== null && typeof meta[field] !== "number") throw bad(field, "a number or null");
  const sha256 = meta.sha256 ?? null;
  if (sha256 !== null && typeof sha256 !== "string") throw bad("sha256", "a string or null");
  return { ...meta, sha256 } as SampleMeta;
}

/** A processed row on its way to the writer: its meta, caption, and the encoded image on success. */
export interface SampleRecord {
  meta: SampleMeta;
  caption: string | null;
  image?: Uint8Array;
}

/** Makes an input value JSON- and parquet-friendly: bigint → number (or string past 2^53), bytes → base64, dates → ISO. */
export function plainValue(value: unknown): unknown {
  if (typeof value === "bigint")
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(plainValue);
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainValue(v)]));
  return value;
}

/**
 * JSON text as Python's `json.dumps(meta, indent=4)` writes it (ASCII only, non-ASCII as \uXXXX escapes),
 * so img2dataset's and our `.json` members are interchangeable byte for byte in layout.
 */
export function pythonJson(value: unknown): string {
  return JSON.stringify(value, null, 4).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
