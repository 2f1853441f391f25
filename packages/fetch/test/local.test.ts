import fs from "node:fs";
import path from "node:path";
import { fixturePath } from "@laion/test-servers";
import { describe, expect, test } from "vitest";
import { captionLength, isHttpUrl } from "../src/filters.js";
import { fetchLaion, fetchLaionSubset, resolveSources } from "../src/index.js";
import { columnNames, readAll, tempDir } from "./helpers.js";

const T1000 = fixturePath("laion/test_1000.parquet");
const T10000 = fixturePath("laion/test_10000.parquet");

/** The rows the always-on filters keep, computed here without the library. */
function expectedKept(rows: Record<string, unknown>[]) {
  return rows.filter(
    (r) =>
      typeof r["URL"] === "string" &&
      /^https?:\/\/[^\s/]/i.test(r["URL"]) &&
      typeof r["TEXT"] === "string" &&
      r["TEXT"].trim() !== "",
  );
}

describe("local parquet", () => {
  test("streams the real rows in file order with URL/TEXT values equal to the source", async () => {
    const source = await readAll(T1000, ["URL", "TEXT"]);
    const { rows, stats } = fetchLaion({ sources: await resolveSources({ input: [T1000] }) });
    const got = [];
    for await (const r of rows) got.push(r);
    const want = expectedKept(source);
    expect(got.length).toBe(want.length);
    expect(got[0]).toEqual({ URL: want[0]!["URL"], TEXT: want[0]!["TEXT"] });
    expect(got.map((r) => r.URL)).toEqual(want.map((r) => r["URL"]));
    expect(stats.rows_read).toBe(1000);
    expect(stats.rows_kept).toBe(want.length);
    expect(stats.rows_read - stats.rows_kept).toBe(Object.values(stats.dropped).reduce((a, b) => a + b, 0));
  });

  test("caption length filters drop exactly the rows outside the bounds (code points)", async () => {
    const source = expectedKept(await readAll(T10000, ["URL", "TEXT"]));
    const { rows, stats } = fetchLaion({
      sources: [{ location: T10000, kind: "file" }],
      minCaptionLen: 20,
      maxCaptionLen: 80,
    });
    const got = [];
    for await (const r of rows) got.push(r.URL);
    const lens = (t: string) => [...t].length;
    const want = source.filter((r) => lens(r["TEXT"] as string) >= 20 && lens(r["TEXT"] as string) <= 80);
    expect(got).toEqual(want.map((r) => r["URL"]));
    expect(stats.dropped["min_caption_len"]).toBe(
      source.filter((r) => lens(r["TEXT"] as string) < 20).length,
    );
    expect(want.length).toBeGreaterThan(1000);
    expect(want.length).toBeLessThan(source.length);
  });

  test("max-samples stops early and writes URL, TEXT first to filtered.parquet with stats", async () => {
    const out = tempDir();
    const { stats } = await fetchLaionSubset({ input: [T10000], maxSamples: 500, outDir: out });
    const written = await readAll(path.join(out, "filtered.parquet"));
    const want = expectedKept(await readAll(T10000, ["URL", "TEXT"])).slice(0, 500);
    expect(written).toEqual(want.map((r) => ({ URL: r["URL"], TEXT: r["TEXT"] })));
    expect(await columnNames(path.join(out, "filtered.parquet"))).toEqual(["URL", "TEXT"]);
    const onDisk = JSON.parse(fs.readFileSync(path.join(out, "fetch_stats.json"), "utf8"));
    expect(onDisk.rows_kept).toBe(500);
    expect(onDisk.stopped_early).toBe(true);
    expect(stats.bytes_fetched).toBeGreaterThan(0);
    expect(fs.readdirSync(out).sort()).toEqual([
      ".fetch-manifest.json",
      ".fetch-progress.json",
      "fetch_stats.json",
      "filtered.parquet",
    ]);
  });

  test("--max-rows-per-file takes the head of every file (a sample spread over parts)", async () => {
    const { rows, stats } = fetchLaion({
      sources: [
        { location: T1000, kind: "file" },
        { location: T10000, kind: "file" },
      ],
      maxRowsPerFile: 100,
    });
    const got = [];
    for await (const r of rows) got.push(r.URL);
    const a = expectedKept((await readAll(T1000, ["URL", "TEXT"])).slice(0, 100));
    const b = expectedKept((await readAll(T10000, ["URL", "TEXT"])).slice(0, 100));
    expect(got).toEqual([...a, ...b].map((r) => r["URL"]));
    expect(stats.rows_read).toBe(200);
    expect(stats.files_done).toBe(2);
  });

  test("helpers agree with the Python semantics they mirror", () => {
    expect(captionLength("a😀b")).toBe(3);
    expect(isHttpUrl("https://x.org/a.jpg")).toBe(true);
    expect(isHttpUrl("ftp://x.org/a.jpg")).toBe(false);
    expect(isHttpUrl("data:image/png;base64,xx")).toBe(false);
  });
});
