import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";
import { FIXTURES_DIR, fixturePath } from "../src/index.js";

test("FIXTURES_DIR is the repo's fixtures/ folder and fixturePath joins inside it", () => {
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
  expect(FIXTURES_DIR).toBe(path.join(repoRoot, "fixtures"));
  expect(fs.statSync(fixturePath("laion/test_1000.parquet")).size).toBeGreaterThan(0);
});
