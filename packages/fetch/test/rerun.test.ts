import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { OutputBusyError, OutputChangedError } from "@laion/cli-kit";
import { fixturePath } from "@laion/test-servers";
import { describe, expect, test } from "vitest";
import { fetchLaionSubset, fetchSubsetStatus } from "../src/index.js";
import { readAll, tempDir } from "./helpers.js";

const T1000 = fixturePath("laion/test_1000.parquet");

describe("reruns on an existing --out-dir", () => {
  test("a failing rerun (typo'd --input) keeps the previous result byte-identical", async () => {
    const out = path.join(tempDir(), "out");
    const params = { input: [T1000], outDir: out, maxSamples: 200 };
    await fetchLaionSubset(params);
    const before = fs.readFileSync(path.join(out, "filtered.parquet"));
    const statsBefore = fs.readFileSync(path.join(out, "fetch_stats.json"));
    expect(fetchSubsetStatus(params)).toMatchObject({
      state: "complete",
      detail: expect.stringMatching(/^200 rows/),
    });

    // even with --overwrite, an input that is not there fails before anything is replaced
    const typo = { ...params, input: [`${T1000}x`], overwrite: true };
    await expect(fetchLaionSubset(typo)).rejects.toThrow("input file not found");
    expect(fs.readFileSync(path.join(out, "filtered.parquet")).equals(before)).toBe(true);
    expect(fs.readFileSync(path.join(out, "fetch_stats.json")).equals(statsBefore)).toBe(true);
    expect(fetchSubsetStatus(params).state).toBe("complete");
  });

  test("other filters are refused by flag name; --overwrite builds the new result and keeps the old as .prev-1", async () => {
    const out = path.join(tempDir(), "out");
    await fetchLaionSubset({ input: [T1000], outDir: out, maxSamples: 100 });
    const old = fs.readFileSync(path.join(out, "filtered.parquet"));
    const changed = { input: [T1000], outDir: out, maxSamples: 150, minCaptionLen: 10 };
    expect(fetchSubsetStatus(changed)).toMatchObject({ state: "changed" });
    const err = await fetchLaionSubset(changed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutputChangedError);
    expect((err as Error).message).toContain("--max-samples: 100 → 150");
    expect((err as Error).message).toContain("--min-caption-len: (unset) → 10");
    expect(fs.readFileSync(path.join(out, "filtered.parquet")).equals(old)).toBe(true);

    const logs: string[] = [];
    await fetchLaionSubset({ ...changed, overwrite: true, onLog: (m) => logs.push(m) });
    expect(logs.join("\n")).toContain("filtered.parquet.prev-1");
    expect(fs.readFileSync(path.join(out, "filtered.parquet.prev-1")).equals(old)).toBe(true);
    expect(await readAll(path.join(out, "filtered.parquet"))).toHaveLength(150);
    expect(fetchSubsetStatus(changed).state).toBe("complete");
  });

  test("a second fetch on a busy --out-dir exits with an error naming the holder; the first's output is untouched", async () => {
    const out = path.join(tempDir(), "out");
    fs.mkdirSync(out, { recursive: true });
    // the lock of a live process (this one) as another fetch would leave it
    fs.writeFileSync(
      path.join(out, ".fetch.lock"),
      JSON.stringify({ pid: process.pid, host: os.hostname(), started_at: "2026-11-30T00:00:00Z" }),
    );
    const err = await fetchLaionSubset({ input: [T1000], outDir: out, maxSamples: 10 }).catch((e) => e);
    expect(err).toBeInstanceOf(OutputBusyError);
    expect((err as Error).message).toContain(`pid ${process.pid}`);
    expect(fs.readdirSync(out)).toEqual([".fetch.lock"]);
  });
});
