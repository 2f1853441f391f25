import fs from "node:fs";
import path from "node:path";
import { fixturePath } from "@laion/test-servers";
import { describe, expect, test } from "vitest";
import { fileOrder } from "../src/fetch-laion.js";
import { fetchLaion, fetchLaionSubset } from "../src/index.js";
import { readAll, tempDir } from "./helpers.js";

const T1000 = fixturePath("laion/test_1000.parquet");
const T10000 = fixturePath("laion/test_10000.parquet");

describe("--resume", () => {
  test("after a crash on the second file, resuming skips the first and writes no duplicates", async () => {
    const dir = tempDir();
    const later = path.join(dir, "arrives-later.parquet");
    const out = path.join(dir, "out");
    const params = {
      input: [T1000, later],
      outDir: out,
      maxSamples: 3000,
      dedupeUrls: true,
      rowGroupSize: 700,
    };
    // First run: the second input is missing, so the run dies after finishing the first file.
    await expect(fetchLaionSubset(params)).rejects.toThrow("input file not found");
    expect(fs.existsSync(path.join(out, "filtered.parquet"))).toBe(false);
    const progress = JSON.parse(fs.readFileSync(path.join(out, ".fetch-progress.json"), "utf8"));
    expect(progress.done.map((d: { index: number }) => d.index)).toEqual([0]);
    // A part killed mid-write (kill -9) leaves a temp file: resume must ignore and remove it.
    fs.writeFileSync(path.join(out, ".fetch-parts", "part-00001.parquet.tmp-99999"), "half");

    fs.copyFileSync(T10000, later);
    const logs: string[] = [];
    const { stats } = await fetchLaionSubset({ ...params, resume: true, onLog: (m) => logs.push(m) });
    expect(logs[0]).toMatch(/resuming: 1 of 2 input files done/);

    const fresh = path.join(dir, "fresh");
    await fetchLaionSubset({ ...params, outDir: fresh });
    const resumed = await readAll(path.join(out, "filtered.parquet"));
    const uninterrupted = await readAll(path.join(fresh, "filtered.parquet"));
    expect(resumed.length).toBe(3000);
    expect(resumed).toEqual(uninterrupted);
    expect(new Set(resumed.map((r) => r["URL"])).size).toBe(resumed.length);
    expect(stats.rows_kept).toBe(3000);
    expect(fs.existsSync(path.join(out, ".fetch-parts"))).toBe(false);
  });

  test("resuming with different filters is refused rather than mixing outputs", async () => {
    const dir = tempDir();
    const out = path.join(dir, "out");
    await expect(
      fetchLaionSubset({ input: [T1000, path.join(dir, "missing.parquet")], outDir: out }),
    ).rejects.toThrow();
    await expect(
      fetchLaionSubset({
        input: [T1000, path.join(dir, "missing.parquet")],
        outDir: out,
        minCaptionLen: 5,
        resume: true,
      }),
    ).rejects.toThrow(/written by a run with other inputs or filters/);
  });

  test("resuming a finished run does nothing and keeps the output", async () => {
    const out = tempDir();
    await fetchLaionSubset({ input: [T1000], outDir: out, maxSamples: 100 });
    const before = fs.readFileSync(path.join(out, "filtered.parquet"));
    const logs: string[] = [];
    await fetchLaionSubset({
      input: [T1000],
      outDir: out,
      maxSamples: 100,
      resume: true,
      onLog: (m) => logs.push(m),
    });
    expect(logs).toEqual([expect.stringMatching(/already complete/)]);
    expect(fs.readFileSync(path.join(out, "filtered.parquet")).equals(before)).toBe(true);
  });
});

describe("--seed / --shuffle", () => {
  async function urls(params: Parameters<typeof fetchLaion>[0]) {
    const out: string[] = [];
    for await (const r of fetchLaion(params).rows) out.push(r.URL);
    return out;
  }
  const sources = [
    { location: T1000, kind: "file" as const },
    { location: T10000, kind: "file" as const },
  ];

  test("the same seed gives the same order; another seed another; rows are a permutation", async () => {
    const plain = await urls({ sources });
    const a = await urls({ sources, shuffle: true, seed: 7, shuffleBuffer: 500 });
    const b = await urls({ sources, shuffle: true, seed: 7, shuffleBuffer: 500 });
    const c = await urls({ sources, shuffle: true, seed: 8, shuffleBuffer: 500 });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a).not.toEqual(plain);
    expect([...a].sort()).toEqual([...plain].sort());
  });

  test("the file order is a seeded permutation", () => {
    const orders = new Set([1, 2, 3, 4, 5, 6].map((seed) => fileOrder(8, { shuffle: true, seed }).join(",")));
    expect(orders.size).toBeGreaterThan(1);
    expect([...fileOrder(8, { shuffle: true, seed: 3 })].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(fileOrder(8, { shuffle: true, seed: 3 })).toEqual(fileOrder(8, { shuffle: true, seed: 3 }));
    expect(fileOrder(3, {})).toEqual([0, 1, 2]);
  });
});
