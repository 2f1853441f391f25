import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The repo's fixtures/ folder, found by walking up from this module, so it is also right when the
 * module is bundled into another package's dist (the demo bundles the servers into apps/trainer/dist).
 * `LAION_FIXTURES_DIR` overrides it.
 */
function findFixturesDir(): string {
  const override = process.env["LAION_FIXTURES_DIR"];
  if (override) return path.resolve(override);
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "fixtures", "README.md"))) return path.join(dir, "fixtures");
    if (path.dirname(dir) === dir) break;
  }
  return path.resolve(here, "../../fixtures");
}

/** Root of the real data copied from shared/data (attribution in fixtures/README.md). */
export const FIXTURES_DIR = findFixturesDir();

/** Absolute path of a file under fixtures/, e.g. `fixturePath("laion/test_1000.parquet")`. */
export function fixturePath(...parts: string[]): string {
  return path.join(FIXTURES_DIR, ...parts);
}
