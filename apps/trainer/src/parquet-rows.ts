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
