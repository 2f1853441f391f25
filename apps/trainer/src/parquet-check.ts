import fs from "node:fs";
import { asyncBufferFromFile, parquetMetadataAsync } from "hyparquet";

/** Rows in a parquet file, reading only its footer; null when the file is missing or not a valid parquet file. */
export async function parquetRowCount(file: string): Promise<number | null> {
  if (!fs.existsSync(file)) return null;
  try {
    const meta = await parquetMetadataAsync(await asyncBufferFromFile(file));
    return Number(meta.num_rows);
  } catch {
    return null;
  }
}

/** Parsed JSON, or null when missing or unparsable (a half-written file counts as missing). */
export function readJson<T = unknown>(file: string): T | null {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as T;
  } catch {
    return null;
  }
}

/** Quotes an argument for a POSIX shell when it needs it, so printed commands can be pasted. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

export function commandLine(args: (string | number)[]): string {
  return args.map((a) => shellQuote(String(a))).join(" ");
}

export function formatBytes(n: number): string {
  if (n < 1e3) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}
