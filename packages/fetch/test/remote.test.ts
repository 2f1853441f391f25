import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fixturePath, startHubServer, startImageServer } from "@laion/test-servers";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { fetchLaion, fetchLaionSubset, resolveSources } from "../src/index.js";
import { defaultHubUrl } from "../src/http.js";
import { readAll, tempDir, writeParquet } from "./helpers.js";

const T1000 = fixturePath("laion/test_1000.parquet");
const T10000 = fixturePath("laion/test_10000.parquet");

let server: Awaited<ReturnType<typeof startImageServer>>;
let multiGroup: string;
let multiGroupDir: string;

beforeAll(async () => {
  // The real 10k rows rewritten with 1000-row groups (and offset indexes), as large LAION parts are laid out.
  multiGroupDir = fs.mkdtempSync(path.join(os.tmpdir(), "laion-fetch-groups-"));
  const rows = await readAll(T10000, ["URL", "TEXT"]);
  multiGroup = writeParquet(
    path.join(multiGroupDir, "groups.parquet"),
    [
      { name: "URL", data: rows.map((r) => r["URL"]), type: "STRING" },
      { name: "TEXT", data: rows.map((r) => r["TEXT"]), type: "STRING" },
    ],
    1000,
  );
  server = await startImageServer({ extraFiles: { "/groups.parquet": multiGroup } });
});
afterAll(async () => {
  await server?.close();
  fs.rmSync(multiGroupDir, { recursive: true, force: true });
});

async function collect(rows: AsyncIterable<{ URL: string; TEXT: string }>) {
  const out = [];
  for await (const r of rows) out.push(r);
  return out;
}

describe("over HTTP with Range", () => {
  test("reads the same rows as the local file, with range requests only", async () => {
    const url = `${server.url}/files/laion/test_1000.parquet`;
    const remote = await collect(fetchLaion({ sources: await resolveSources({ input: [url] }) }).rows);
    const local = await collect(fetchLaion({ sources: [{ location: T1000, kind: "file" }] }).rows);
    expect(remote).toEqual(local);
    const gets = server.requests.filter(
      (r) => r.path === "/files/laion/test_1000.parquet" && r.method === "GET",
    );
    expect(gets.length).toBeGreaterThan(0);
    expect(gets.every((r) => r.range?.startsWith("bytes="))).toBe(true);
  });

  test("--max-samples fetches a small fraction of a multi-row-group file", async () => {
    const size = fs.statSync(multiGroup).size;
    const { rows, stats } = fetchLaion({
      sources: [{ location: `${server.url}/files/groups.parquet`, kind: "url" }],
      maxSamples: 500,
    });
    const got = await collect(rows);
    const want = (await readAll(T10000, ["URL", "TEXT"])).filter(
      (r) => String(r["TEXT"]).trim() !== "" && /^https?:\/\//i.test(String(r["URL"])),
    );
    expect(got.map((r) => r.URL)).toEqual(want.slice(0, 500).map((r) => r["URL"]));
    expect(stats.bytes_fetched).toBeGreaterThan(0);
    expect(stats.bytes_fetched).toBeLessThan(size * 0.25);
    expect(stats.rows_read).toBeLessThan(2000);
  });

  test("a full scan in small row slices fetches each byte about once (pages straddling slices are not refetched)", async () => {
    const size = fs.statSync(multiGroup).size;
    const { rows, stats } = fetchLaion({
      sources: [{ location: `${server.url}/files/groups.parquet`, kind: "url" }],
      batchRows: 100,
      maxBatchRows: 100,
    });
    let n = 0;
    for await (const _ of rows) n++;
    expect(stats.rows_read).toBe(10_000);
    expect(n).toBeGreaterThan(9000);
    // 100 reads per 1000-row group, each needing the group's one page per column: 10x without the cache
    expect(stats.bytes_fetched).toBeLessThan(size * 1.1); // the small offset indexes are re-read per call
  });

  test("remote 404 names the URL", async () => {
    const url = `${server.url}/files/laion/missing.parquet`;
    await expect(collect(fetchLaion({ sources: [{ location: url, kind: "url" }] }).rows)).rejects.toThrow(
      `${url}: HTTP 404`,
    );
  });

  test("a server that stops sending gives a timeout error naming the URL and --timeout", async () => {
    const url = `${server.url}/fault/slow/123_456.jpg?ms=20000`;
    await expect(
      collect(fetchLaion({ sources: [{ location: url, kind: "url" }], timeoutMs: 300, retries: 0 }).rows),
    ).rejects.toThrow(/no complete response within 0.3 s \(raise --timeout\)/);
  });

  test("an HTTP file that is not parquet says so", async () => {
    const url = `${server.url}/images/123_456.jpg`;
    await expect(collect(fetchLaion({ sources: [{ location: url, kind: "url" }] }).rows)).rejects.toThrow(
      `${url}: not a parquet file`,
    );
  });
});

describe("through the hub-like server with @huggingface/hub", () => {
  const DATASET = "laion/relaion2B-en-research-safe";
  const TOKEN = "hf_testTokenThatMustNeverLeak42";
  let hub: Awaited<ReturnType<typeof startHubServer>>;
  beforeAll(async () => {
    hub = await startHubServer({
      token: TOKEN,
      datasets: {
        [DATASET]: {
          gated: true,
          files: {
            "README.md": fixturePath("README.md"),
            "data/part-00001.parquet": T10000,
            "data/part-00000.parquet": T1000,
          },
        },
        "laion/open": { files: { "part-0.parquet": T1000 } },
      },
    });
  });
  afterAll(() => hub?.close());

  test("lists the dataset's parquet files in path order and streams them with the token", async () => {
    const out = tempDir();
    const { stats } = await fetchLaionSubset({
      hubUrl: hub.url,
      token: TOKEN,
      maxSamples: 1500,
      outDir: out,
    });
    const written = await readAll(path.join(out, "filtered.parquet"));
    const keep = (r: Record<string, unknown>) =>
      String(r["TEXT"] ?? "").trim() !== "" && /^https?:\/\//i.test(String(r["URL"]));
    const a = (await readAll(T1000, ["URL", "TEXT"])).filter(keep);
    const b = (await readAll(T10000, ["URL", "TEXT"])).filter(keep);
    const want = [...a, ...b].slice(0, 1500);
    expect(written.length).toBe(1500);
    expect(written[0]).toEqual({ URL: want[0]!["URL"], TEXT: want[0]!["TEXT"] });
    expect(written.map((r) => r["URL"])).toEqual(want.map((r) => r["URL"]));
    expect(stats.files_total).toBe(2);
    const resolves = hub.requests.filter((r) => r.path.includes("/resolve/"));
    expect(resolves.length).toBeGreaterThan(0);
    expect(resolves.every((r) => r.authorization)).toBe(true);
  });

  test("HF_ENDPOINT picks the hub (mirror) when no hubUrl is given, and the token goes there", async () => {
    vi.stubEnv("HF_ENDPOINT", `${hub.url}/`);
    try {
      const before = hub.requests.length;
      const { stats } = await fetchLaionSubset({ token: TOKEN, maxSamples: 10, outDir: tempDir() });
      expect(stats.rows_kept).toBe(10);
      const seen = hub.requests.slice(before);
      expect(seen.some((r) => r.path.includes("/api/datasets/"))).toBe(true);
      expect(seen.filter((r) => r.path.includes("/resolve/")).every((r) => r.authorization)).toBe(true);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  test("defaultHubUrl: HF_ENDPOINT without trailing slash, huggingface.co when unset, a bad value named", () => {
    expect(defaultHubUrl({})).toBe("https://huggingface.co");
    expect(defaultHubUrl({ HF_ENDPOINT: " https://hf-mirror.com// " })).toBe("https://hf-mirror.com");
    expect(() => defaultHubUrl({ HF_ENDPOINT: "hf-mirror.com" })).toThrow(
      /HF_ENDPOINT must be an http\(s\):\/\/ URL/,
    );
  });

  test("a gated dataset without a token says to accept the terms and set HF_TOKEN", async () => {
    const out = tempDir();
    const err = await fetchLaionSubset({ hubUrl: hub.url, outDir: out }).catch((e: Error) => e);
    expect(String(err)).toMatch(/accept the terms/);
    expect(String(err)).toMatch(/HF_TOKEN/);
    expect(fs.existsSync(path.join(out, "filtered.parquet"))).toBe(false);
  });

  test("an unknown dataset is named in the error", async () => {
    await expect(
      fetchLaionSubset({ hubUrl: hub.url, hfDataset: "laion/no-such-set", outDir: tempDir() }),
    ).rejects.toThrow(/unknown dataset laion\/no-such-set/);
  });

  test("--subset part files follow the URL pattern; --num-parts beyond 128 is refused", async () => {
    const sources = await resolveSources({
      subset: "laion2B-en",
      numParts: 2,
      hubUrl: "https://huggingface.co",
    });
    expect(sources.map((s) => s.location)).toEqual([
      "https://huggingface.co/datasets/laion/laion2B-en/resolve/main/part-00000-5114fd87-297e-42b0-9d11-50f1df323dfa-c000.snappy.parquet",
      "https://huggingface.co/datasets/laion/laion2B-en/resolve/main/part-00001-5114fd87-297e-42b0-9d11-50f1df323dfa-c000.snappy.parquet",
    ]);
    await expect(resolveSources({ subset: "laion2B-en", numParts: 129 })).rejects.toThrow(
      /--num-parts 129 is beyond what exists: laion2B-en has 128 part files/,
    );
    await expect(resolveSources({ subset: "laion5B-xx" })).rejects.toThrow(/unknown --subset laion5B-xx/);
  });

  test("--parts-url reads part files from a mirror; a part that does not exist is a 404 naming it", async () => {
    const out = tempDir();
    const partsUrl = `${hub.url}/datasets/laion/open/resolve/main/part-{i}.parquet`;
    const { stats } = await fetchLaionSubset({ partsUrl, numParts: 1, outDir: out, maxSamples: 10 });
    expect(stats.rows_kept).toBe(10);
    await expect(fetchLaionSubset({ partsUrl, numParts: 2, outDir: tempDir() })).rejects.toThrow(
      /part-1\.parquet: HTTP 404/,
    );
  });
});
