// vitest globalSetup shared by every project (vitest.shared.ts): the tests of one vitest run get their
// own temporary folder, and it is removed when the run ends. Tests make folders with
// `fs.mkdtemp(os.tmpdir())` and bins they spawn do the same; without this each CI run left ~2,000
// folders (checkpoints, shards, caches) in /tmp. os.tmpdir() reads TMPDIR on every call, and vitest
// starts its test processes after the global setup, so they and their children inherit it.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export default function setup() {
  const previous = process.env.TMPDIR;
  const runFolder = fs.mkdtempSync(path.join(os.tmpdir(), "laion-test-"));
  process.env.TMPDIR = runFolder;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    // Kept when LAION_KEEP_TEST_TMP is set, to look at what a failing test wrote.
    if (process.env.LAION_KEEP_TEST_TMP) console.log(`test files kept in ${runFolder}`);
    else fs.rmSync(runFolder, { recursive: true, force: true });
  };
}
