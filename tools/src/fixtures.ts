import path from "node:path";
import { fileURLToPath } from "node:url";

/** Root of the real data copied from shared/data (attribution in fixtures/README.md). */
export const FIXTURES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../fixtures");

/** Absolute path of a file under fixtures/, e.g. `fixturePath("laion/test_1000.parquet")`. */
export function fixturePath(...parts: string[]): string {
  return path.join(FIXTURES_DIR, ...parts);
}
