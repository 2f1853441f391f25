import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  checkRepoAccess,
  datasetInfo,
  downloadFile,
  downloadFileToCacheDir,
  HubApiError,
  type ListFileEntry,
  listFiles,
  pathsInfo,
} from "@huggingface/hub";
import { asyncBufferFromFile, asyncBufferFromUrl, parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { fixturePath, type HubServer, startHubServer } from "../src/index.js";

const TOKEN = "hf_test_token_never_logged";
const PUBLIC = "laion/public-sample";
const GATED = "laion/gated-sample";
const NOT_ACCEPTED = "laion/gated-terms-not-accepted";
const P1000 = fixturePath("laion/test_1000.parquet");
const P10000 = fixturePath("laion/test_10000.parquet");
const README = fixturePath("README.md");

let hub: HubServer;
beforeAll(async () => {
  hub = await startHubServer({
    token: TOKEN,
    pageSize: 2, // small pages, so listFiles must follow the Link header
    datasets: {
      [PUBLIC]: {
        files: {
          "README.md": README,
          "data/part-00000.parquet": P1000,
          "data/part-00001.parquet": P10000,
          "data/extra/part-00002.parquet": fixturePath("laion/sample_image.parquet"),
        },
      },
      [GATED]: { gated: true, files: { "data/part-00000.parquet": P1000 } },
      [NOT_ACCEPTED]: { gated: true, accessGranted: false, files: { "data/part-00000.parquet": P1000 } },
    },
  });
});
afterAll(() => hub.close());

const repo = (name: string) => ({ type: "dataset" as const, name });

async function list(name: string, opts: { path?: string; recursive?: boolean; accessToken?: string } = {}) {
  const out: ListFileEntry[] = [];
  for await (const e of listFiles({ repo: repo(name), hubUrl: hub.url, ...opts })) out.push(e);
  return out;
}

async function apiError(p: Promise<unknown>): Promise<HubApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof HubApiError) return err;
    throw err;
  }
  throw new Error("expected a HubApiError");
}

describe("listFiles", () => {
  test("recursive listing returns every file with size, oid and lfs info, across pages", async () => {
    const before = hub.requests.length;
    const entries = await list(PUBLIC, { recursive: true });
    const files = entries.filter((e) => e.type === "file");
    expect(files.map((f) => [f.path, f.size])).toEqual([
      ["README.md", fs.statSync(README).size],
      ["data/extra/part-00002.parquet", fs.statSync(fixturePath("laion/sample_image.parquet")).size],
      ["data/part-00000.parquet", fs.statSync(P1000).size],
      ["data/part-00001.parquet", fs.statSync(P10000).size],
    ]);
    expect(entries.filter((e) => e.type === "directory").map((e) => e.path)).toEqual(["data", "data/extra"]);
    const parquet = files.find((f) => f.path === "data/part-00000.parquet")!;
    expect(parquet.oid).toMatch(/^[0-9a-f]{40}$/);
    expect(parquet.lfs?.oid).toMatch(/^[0-9a-f]{64}$/);
    expect(parquet.lfs?.size).toBe(parquet.size);
    expect(files.find((f) => f.path === "README.md")!.lfs).toBeUndefined();
    // 6 entries at 2 per page: 3 requests, the later ones with a cursor from the Link header
    const pages = hub.requests.slice(before);
    expect(pages).toHaveLength(3);
    expect(pages[1]!.path).toContain("cursor=");
  });

  test("non-recursive listing of a folder returns its direct children", async () => {
    const entries = await list(PUBLIC, { path: "data" });
    expect(entries.map((e) => [e.type, e.path])).toEqual([
      ["directory", "data/extra"],
      ["file", "data/part-00000.parquet"],
      ["file", "data/part-00001.parquet"],
    ]);
  });

  test("an unknown repo is a 404 'Repository not found'", async () => {
    const err = await apiError(list("laion/no-such-dataset"));
    expect(err.statusCode).toBe(404);
    expect(err.message).toMatch(/^Repository not found/);
  });

  test("a gated repo without a token is a 401 saying access is restricted", async () => {
    const err = await apiError(list(GATED));
    expect(err.statusCode).toBe(401);
    expect(err.message).toContain(`Access to dataset ${GATED} is restricted`);
    expect(err.data).toEqual({ error: expect.stringContaining("restricted") });
  });

  test("a wrong token is a 401, on gated and public repos alike", async () => {
    for (const name of [GATED, PUBLIC]) {
      const err = await apiError(list(name, { accessToken: "hf_wrong" }));
      expect(err.statusCode, name).toBe(401);
      expect(err.message).toMatch(/Invalid credentials/);
    }
  });

  test("a gated repo whose terms the token holder has not accepted is a 403 GatedRepo", async () => {
    const err = await apiError(list(NOT_ACCEPTED, { accessToken: TOKEN }));
    expect(err.statusCode).toBe(403);
    expect(err.message).toContain("not in the authorized list");
    const raw = await fetch(hub.resolveUrl(NOT_ACCEPTED, "data/part-00000.parquet"), {
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    expect([raw.status, raw.headers.get("x-error-code")]).toEqual([403, "GatedRepo"]);
  });

  test("a gated repo with the token lists its files", async () => {
    const entries = await list(GATED, { recursive: true, accessToken: TOKEN });
    expect(entries.filter((e) => e.type === "file").map((e) => e.path)).toEqual(["data/part-00000.parquet"]);
  });
});

describe("downloads", () => {
  test("downloadFile returns the file's bytes", async () => {
    const blob = await downloadFile({ repo: repo(PUBLIC), path: "data/part-00000.parquet", hubUrl: hub.url });
    expect(blob).not.toBeNull();
    expect(Buffer.from(await blob!.arrayBuffer()).equals(fs.readFileSync(P1000))).toBe(true);
  });

  test("downloadFile of a missing path returns null (EntryNotFound)", async () => {
    expect(await downloadFile({ repo: repo(PUBLIC), path: "data/nope.parquet", hubUrl: hub.url })).toBeNull();
  });

  test("downloadFile from a gated repo: 401 without the token, the bytes with it", async () => {
    const params = { repo: repo(GATED), path: "data/part-00000.parquet", hubUrl: hub.url };
    expect((await apiError(downloadFile(params))).statusCode).toBe(401);
    const blob = await downloadFile({ ...params, accessToken: TOKEN });
    expect(Buffer.from(await blob!.arrayBuffer()).equals(fs.readFileSync(P1000))).toBe(true);
  });

  test("downloadFileToCacheDir writes the file into an HF-style cache", async () => {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "hf-cache-"));
    try {
      const file = await downloadFileToCacheDir({
        repo: repo(PUBLIC),
        path: "data/part-00001.parquet",
        hubUrl: hub.url,
        cacheDir,
      });
      expect(file).toContain(path.join("datasets--laion--public-sample", "snapshots"));
      expect(fs.readFileSync(file).equals(fs.readFileSync(P10000))).toBe(true);
    } finally {
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  test("pathsInfo, datasetInfo and checkRepoAccess answer as the hub does", async () => {
    const info = await pathsInfo({
      repo: repo(PUBLIC),
      paths: ["data/part-00000.parquet", "nope"],
      hubUrl: hub.url,
      expand: true,
    });
    expect(info.map((i) => [i.path, i.size, i.lastCommit?.id])).toEqual([
      ["data/part-00000.parquet", fs.statSync(P1000).size, hub.commit],
    ]);
    const ds = await datasetInfo({ name: GATED, hubUrl: hub.url, accessToken: TOKEN });
    expect([ds.name, ds.gated]).toEqual([GATED, "manual"]);
    await expect(
      checkRepoAccess({ repo: repo(GATED), hubUrl: hub.url, accessToken: TOKEN }),
    ).resolves.toBeUndefined();
    expect((await apiError(checkRepoAccess({ repo: repo(GATED), hubUrl: hub.url }))).statusCode).toBe(401);
  });

  test("an unknown revision is a 404", async () => {
    const err = await apiError(
      (async () => {
        for await (const _ of listFiles({ repo: repo(PUBLIC), hubUrl: hub.url, revision: "v9" }));
      })(),
    );
    expect(err.statusCode).toBe(404);
  });
});

describe("range reads through resolve URLs", () => {
  test("hyparquet reads a parquet through the resolve URL with range requests", async () => {
    const url = hub.resolveUrl(PUBLIC, "data/part-00001.parquet");
    const before = hub.requests.length;
    const remote = await asyncBufferFromUrl({ url });
    expect(remote.byteLength).toBe(fs.statSync(P10000).size);
    const local = await asyncBufferFromFile(P10000);
    const [remoteRows, localRows] = await Promise.all([
      parquetReadObjects({ file: remote, rowStart: 0, rowEnd: 20 }),
      parquetReadObjects({ file: local, rowStart: 0, rowEnd: 20 }),
    ]);
    expect(remoteRows).toHaveLength(20);
    expect(remoteRows).toEqual(localRows);
    const metadata = await parquetMetadataAsync(remote);
    expect(Number(metadata.num_rows)).toBe(10_000);
    const reads = hub.requests.slice(before);
    expect(reads[0]!.method).toBe("HEAD");
    // every GET is a range request: the server answered 206, so hyparquet never fell back to a full download
    const gets = reads.filter((r) => r.method === "GET");
    expect(gets.length).toBeGreaterThan(1);
    expect(gets.every((r) => r.range?.startsWith("bytes="))).toBe(true);
  });

  test("a gated resolve URL needs the Bearer token", async () => {
    const url = hub.resolveUrl(GATED, "data/part-00000.parquet");
    await expect(asyncBufferFromUrl({ url })).rejects.toThrow(/401/);
    const file = await asyncBufferFromUrl({
      url,
      requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } },
    });
    const rows = await parquetReadObjects({ file, rowEnd: 3 });
    expect(rows).toEqual(await parquetReadObjects({ file: await asyncBufferFromFile(P1000), rowEnd: 3 }));
  });
});

test("requests record whether a token was sent, never the token itself", () => {
  expect(hub.requests.some((r) => r.authorization)).toBe(true);
  expect(hub.requests.some((r) => !r.authorization)).toBe(true);
  expect(JSON.stringify(hub.requests)).not.toContain(TOKEN);
  expect(JSON.stringify(hub.requests)).not.toContain("hf_wrong");
});

describe("lfsRedirect: LFS files resolve through a 302 to a CDN URL, as on the real hub", () => {
  let cdnHub: HubServer;
  beforeAll(async () => {
    cdnHub = await startHubServer({
      token: TOKEN,
      lfsRedirect: true,
      datasets: {
        [GATED]: { gated: true, files: { "data/part-00000.parquet": P1000, "README.md": README } },
      },
    });
  });
  afterAll(() => cdnHub.close());

  test("the resolve URL redirects with X-Linked-Size, and only LFS files do", async () => {
    const res = await fetch(cdnHub.resolveUrl(GATED, "data/part-00000.parquet"), {
      redirect: "manual",
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toMatch(/\/cdn-lfs\/[0-9a-f]{64}\?/);
    expect(Number(res.headers.get("x-linked-size"))).toBe(fs.statSync(P1000).size);
    const readme = await fetch(cdnHub.resolveUrl(GATED, "README.md"), {
      redirect: "manual",
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    expect(readme.status).toBe(200);
  });

  test("downloadFile and hyparquet follow the redirect and range-read the CDN URL", async () => {
    const blob = await downloadFile({
      repo: repo(GATED),
      path: "data/part-00000.parquet",
      hubUrl: cdnHub.url,
      accessToken: TOKEN,
    });
    expect(Buffer.from(await blob!.arrayBuffer()).equals(fs.readFileSync(P1000))).toBe(true);
    const file = await asyncBufferFromUrl({
      url: cdnHub.resolveUrl(GATED, "data/part-00000.parquet"),
      requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } },
    });
    expect(file.byteLength).toBe(fs.statSync(P1000).size);
    expect(await parquetReadObjects({ file, rowEnd: 5 })).toEqual(
      await parquetReadObjects({ file: await asyncBufferFromFile(P1000), rowEnd: 5 }),
    );
    const cdnReads = cdnHub.requests.filter((r) => r.path.startsWith("/cdn-lfs/"));
    expect(cdnReads.length).toBeGreaterThan(0);
    expect(cdnReads.some((r) => r.range)).toBe(true);
  });

  test("the redirect is still behind the gate", async () => {
    const err = await apiError(
      downloadFile({ repo: repo(GATED), path: "data/part-00000.parquet", hubUrl: cdnHub.url }),
    );
    expect(err.statusCode).toBe(401);
  });
});
