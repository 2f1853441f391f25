import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The marker that identifies the repository root: the demo's real LAION sample. */
const MARKER = path.join("fixtures", "laion", "test_10000.parquet");

/**
 * The repository root (the folder holding fixtures/), searched upwards from the working directory and
 * then from this module's location, so `npm run demo`, `nx run trainer:demo` and
 * `node apps/trainer/dist/cli.js demo` from anywhere in the checkout all find it.
 */
export function findRepoRoot(
  start: string[] = [process.cwd(), path.dirname(fileURLToPath(import.meta.url))],
): string {
  for (const from of start) {
    let dir = path.resolve(from);
    for (;;) {
      if (fs.existsSync(path.join(dir, MARKER))) return dir;
      const up = path.dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  throw new Error(
    `cannot find the repository root (a folder with ${MARKER}) above ${start.join(" or ")}; run the demo inside the checkout`,
  );
}
