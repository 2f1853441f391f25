import path from "node:path";
import { describe, expect, test } from "vitest";
import { BloomFilter } from "../src/bloom.js";
import { FILTERS, fetchLaion } from "../src/index.js";
import { tempDir, writeParquet } from "./helpers.js";

/** 2000 synthetic rows with every LAION column, values spread so each filter has work to do. */
function laionLike(dir: string) {
  const n = 2000;
  const rows = Array.from({ length: n }, (_, i) => ({
    url: i % 97 === 0 ? `ftp://x.org/${i}.jpg` : `https://img.example.org/${i % 1500}.jpg`, // repeats after 1500
    caption: i % 89 === 0 ? "   " : `caption number ${i} ${"x".repeat(i % 60)}`,
    WIDTH: i % 50 === 0 ? null : 64 + ((i * 37) % 900),
    HEIGHT: 64 + ((i * 53) % 700),
    punsafe: ((i * 7) % 100) / 100,
    pwatermark: ((i * 11) % 100) / 100,
    similarity: 0.2 + ((i * 13) % 20) / 100,
  }));
  const file = writeParquet(
    path.join(dir, "cols.parquet"),
    [
      { name: "url", data: rows.map((r) => r.url), type: "STRING" },
      { name: "caption", data: rows.map((r) => r.caption), type: "STRING" },
      { name: "WIDTH", data: rows.map((r) => (r.WIDTH === null ? null : BigInt(r.WIDTH))), type: "INT64" },
      { name: "HEIGHT", data: rows.map((r) => r.HEIGHT), type: "INT32" },
      { name: "punsafe", data: rows.map((r) => r.punsafe), type: "FLOAT" },
      { name: "pwatermark", data: rows.map((r) => r.pwatermark), type: "FLOAT" },
      { name: "similarity", data: rows.map((r) => r.similarity), type: "DOUBLE" },
      { name: "__index_level_0__", data: rows.map((_, i) => BigInt(i)), type: "INT64" },
    ],
    300,
  );
  return { file, rows };
}

const f32 = (x: number) => Math.fround(x);

describe("column filters", () => {
  test("each filter drops exactly the rows that fail it, counted under its name", async () => {
    const { file, rows } = laionLike(tempDir());
    const p = {
      minWidth: 300,
      minHeight: 200,
      maxAspectRatio: 2,
      maxPunsafe: 0.5,
      maxPwatermark: 0.8,
      minSimilarity: 0.25,
    };
    const { rows: out, stats } = fetchLaion({ sources: [{ location: file, kind: "file" }], ...p });
    const got = [];
    for await (const r of out) got.push(r);
    const dropped: Record<string, number> = {};
    const want = rows.filter((r) => {
      const checks: [string, boolean][] = [
        ["url_scheme", r.url.startsWith("https://")],
        ["empty_caption", r.caption.trim() !== ""],
        ["min_width", r.WIDTH !== null && r.WIDTH >= 300],
        ["min_height", r.HEIGHT >= 200],
        [
          "max_aspect_ratio",
          r.WIDTH !== null && Math.max(r.WIDTH, r.HEIGHT) / Math.min(r.WIDTH, r.HEIGHT) <= 2,
        ],
        ["max_punsafe", f32(r.punsafe) <= 0.5],
        ["max_pwatermark", f32(r.pwatermark) <= 0.8],
        ["min_similarity", r.similarity >= 0.25],
      ];
      const failed = checks.find(([, ok]) => !ok);
      if (failed) dropped[failed[0]] = (dropped[failed[0]] ?? 0) + 1;
      return !failed;
    });
    expect(got.map((r) => r.URL)).toEqual(want.map((r) => r.url));
    expect(stats.dropped).toEqual(dropped);
    expect(Object.keys(dropped).length).toBe(8);
    // the kept rows carry the LAION columns, with numbers as numbers
    expect(got[0]).toMatchObject({
      URL: want[0]!.url,
      TEXT: want[0]!.caption,
      WIDTH: want[0]!.WIDTH,
      HEIGHT: want[0]!.HEIGHT,
    });
    expect(got[0]).not.toHaveProperty("__index_level_0__");
  });

  test("--dedupe-urls keeps the first occurrence of each URL only", async () => {
    const { file, rows } = laionLike(tempDir());
    const { rows: out, stats } = fetchLaion({
      sources: [{ location: file, kind: "file" }],
      dedupeUrls: true,
    });
    const got = [];
    for await (const r of out) got.push(r.URL);
    const seen = new Set<string>();
    const want = rows
      .filter((r) => r.url.startsWith("https://") && r.caption.trim() !== "")
      .filter((r) => {
        if (seen.has(r.url)) return false;
        seen.add(r.url);
        return true;
      })
      .map((r) => r.url);
    expect(got).toEqual(want);
    expect(new Set(got).size).toBe(got.length);
    expect(stats.dropped["dedupe_urls"]).toBeGreaterThan(400);
  });

  test("the Bloom filter's measured false-positive rate stays near its target", () => {
    const bloom = new BloomFilter({ expectedItems: 100_000, fpr: 0.01 });
    for (let i = 0; i < 100_000; i++) bloom.testAndAdd(`https://a.org/${i}.jpg`);
    let fp = 0;
    for (let i = 0; i < 100_000; i++) if (bloom.has(`https://b.org/other/${i}.png`)) fp++;
    expect(fp / 100_000).toBeGreaterThan(0.005);
    expect(fp / 100_000).toBeLessThan(0.015);
    for (let i = 0; i < 100_000; i += 997) expect(bloom.has(`https://a.org/${i}.jpg`)).toBe(true);
    expect(bloom.byteLength).toBeLessThan(130_000); // ~9.6 bits per item at 1 %
  });

  test("every registered filter is off unless its flag is given (invariant over the registry)", () => {
    for (const [name, spec] of Object.entries(FILTERS)) {
      if (spec.flag === "") expect(spec.make({}), name).toBeTypeOf("function");
      else expect(spec.make({}), name).toBeUndefined();
    }
  });
});
