import fs from "node:fs";
import path from "node:path";
import { fixturePath } from "@laion/test-servers";
import { afterEach, expect, test, vi } from "vitest";
import { fetchLaionFiles } from "../src/fetch-laion.js";
import { Scratch } from "../src/scratch.js";
import { resolveSources } from "../src/sources.js";
import { emptyStats } from "../src/types.js";
import { tempDir } from "./helpers.js";

afterEach(() => {
  vi.restoreAllMocks();
});

test("files read one after another decode into the same page arrays (not a new set per file)", async () => {
  const dir = tempDir();
  const inputs = ["a", "b", "c"].map((name) => {
    const file = path.join(dir, `${name}.parquet`);
    fs.copyFileSync(fixturePath("laion/test_1000.parquet"), file);
    return file;
  });
  // the Scratch objects each file's page readers take their arrays from
  const used: Set<Scratch>[] = [];
  const get = Scratch.prototype.get;
  vi.spyOn(Scratch.prototype, "get").mockImplementation(function (this: Scratch, ...args) {
    used.at(-1)!.add(this);
    return get.apply(this, args) as never;
  });
  const stats = emptyStats();
  let rows = 0;
  for await (const file of fetchLaionFiles({ sources: await resolveSources({ input: inputs }) }, stats)) {
    used.push(new Set());
    for await (const batch of file.batches) rows += batch.length;
  }
  expect(stats.rows_read).toBe(3_000);
  expect(rows).toBe(stats.rows_kept);
  expect(used).toHaveLength(3);
  // one per projected column (the fixture has URL and TEXT), the very same objects three times
  expect(used[0]!.size).toBe(2);
  for (const later of used.slice(1)) {
    expect(later.size).toBe(2);
    for (const scratch of later) expect(used[0]!.has(scratch)).toBe(true);
  }
});
