import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { type ImageServer, startImageServer } from "@laion/test-servers";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  downloadShards,
  ROBOTS_DISALLOWED_ERROR,
  type RunStats,
  type ShardStats,
  transientFailures,
} from "../../src/download/index.js";
import {
  listDir,
  ORIGINAL_NAMES,
  ORIGINALS,
  readParquetRows,
  readTar,
  realCaptions,
  tempDir,
  writeParquet,
} from "./helpers.js";

/** Every way a web URL goes wrong, with what the downloader must record for it. */
const FAULTS: { path: (base: string) => string; status: string; error: RegExp | null }[] = [
  { path: (b) => `${b}/fault/404/123_456.jpg`, status: "failed_to_download", error: /^HTTP 404$/ },
  { path: (b) => `${b}/fault/500/123_456.jpg`, status: "failed_to_download", error: /^HTTP 500$/ },
  { path: (b) => `${b}/fault/503-then-ok/208_495.jpg`, status: "success", error: null },
  { path: (b) => `${b}/fault/429-then-ok/321_421.jpg`, status: "success", error: null },
  // `slow` (a timeout) has its own run below: a deadline short enough to end it quickly failed real
  // images too on a loaded machine
  { path: (b) => `${b}/fault/truncated/416_264.jpg`, status: "failed_to_download", error: /^network error/ },
  { path: (b) => `${b}/fault/redirect-chain/456_123.jpg`, status: "success", error: null },
  {
    path: (b) => `${b}/fault/redirect-loop/524_316.jpg`,
    status: "failed_to_download",
    error: /^too many redirects \(max 5\)$/,
  },
  {
    path: (b) => `${b}/fault/wrong-content-type/123_456.jpg`,
    status: "failed_to_resize",
    error: /unsupported image format/,
  },
  {
    path: (b) => `${b}/fault/lying-content-length/208_495.jpg`,
    status: "failed_to_download",
    error: /^invalid HTTP response/,
  },
  {
    path: (b) => `${b}/fault/lying-content-length-big/321_421.jpg`,
    status: "failed_to_download",
    error: /^network error/,
  },
  {
    path: (b) => `${b}/fault/noai/389_535.jpg`,
    status: "failed_to_download",
    error: /^Use of image disallowed/,
  },
  {
    path: (b) => `${b}/fault/noimageai/416_264.jpg`,
    status: "failed_to_download",
    error: /^Use of image disallowed/,
  },
  {
    path: (b) => `${b}/fault/noindex/456_123.jpg`,
    status: "failed_to_download",
    error: /^Use of image disallowed/,
  },
  { path: (b) => `${b}/fault/huge/huge.png`, status: "failed_to_resize", error: /^image area too large/ },
  {
    path: (b) => `${b}/fault/corrupt/524_316.jpg`,
    status: "failed_to_resize",
    error: /^image decoding error/,
  },
  { path: (b) => `${b}/fault/empty/123_456.jpg`, status: "failed_to_resize", error: /^empty image$/ },
  { path: () => "", status: "failed_to_download", error: /^empty URL$/ },
  {
    path: () => "ftp://example.com/a.jpg",
    status: "failed_to_download",
    error: /^unsupported URL scheme "ftp"/,
  },
  { path: () => "not a url", status: "failed_to_download", error: /^invalid URL$/ },
];

const SHARD_SIZE = 10;
const ROWS = 45; // 5 shards, the last one short

interface Row {
  url: string;
  caption: string;
  index: bigint;
  status: string;
  error: RegExp | null;
  file?: string;
}

let server: ImageServer;
let work: string;
let rows: Row[];
let input: string;

beforeAll(async () => {
  server = await startImageServer();
  // The server builds the `huge` PNG bomb (deflating ~110 MB of zeros) on its first request: at a load
  // of 20 that took longer than the run's 1.5 s deadline and the fault read as a timeout. Build it now.
  await (await fetch(`${server.url}/fault/huge/huge.png`)).arrayBuffer();
  work = tempDir("main");
  const captions = await realCaptions(ROWS);
  // faults spread over the shards: rows 3, 5, 7, … ; real images elsewhere
  rows = captions.map(({ caption, index }, i) => {
    const f = i % 2 === 1 && (i - 1) / 2 < FAULTS.length ? FAULTS[(i - 1) / 2]! : null;
    if (f) return { url: f.path(server.url), caption, index, status: f.status, error: f.error };
    const file = ORIGINAL_NAMES[i % ORIGINAL_NAMES.length]!;
    return { url: `${server.url}/images/${file}`, caption, index, status: "success", error: null, file };
  });
  input = writeParquet(path.join(work, "input.parquet"), {
    URL: { data: rows.map((r) => r.url), type: "STRING" },
    TEXT: { data: rows.map((r) => r.caption), type: "STRING" },
    __index_level_0__: { data: rows.map((r) => r.index), type: "INT64" },
  });
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

const key = (i: number) => `${String(Math.floor(i / SHARD_SIZE)).padStart(5, "0")}${String(i % SHARD_SIZE)}`;

describe("downloadShards end to end against the local image server", () => {
  let out: string;
  let stats: RunStats;

  beforeAll(async () => {
    out = path.join(work, "out");
    stats = await downloadShards({
      input,
      output: out,
      shardSize: SHARD_SIZE,
      imageSize: 256,
      concurrency: 8,
      // no fault here waits on the deadline: it only has to outlast a loaded machine (1500 ms did not)
      timeoutMs: 30_000,
      retries: 1,
      retryBaseDelayMs: 10,
      maxRedirects: 5,
      allowPrivateAddresses: true,
      saveAdditionalColumns: ["__index_level_0__"],
    });
  });

  test("writes img2dataset's file layout: tar, parquet and stats per shard, and stats.json", () => {
    const shards = ["00000", "00001", "00002", "00003", "00004"];
    expect(listDir(out)).toEqual(
      [...shards.flatMap((s) => [`${s}.tar`, `${s}.parquet`, `${s}_stats.json`]), "stats.json"].sort(),
    );
  });

  test("every fault ends with the expected status and reason", async () => {
    const all = (
      await Promise.all([0, 1, 2, 3, 4].map((s) => readParquetRows(path.join(out, `0000${s}.parquet`))))
    ).flat();
    expect(all.map((r) => r.key)).toEqual(rows.map((_, i) => key(i)));
    for (const [i, row] of rows.entries()) {
      const got = all[i]!;
      expect({ i, url: got.url, status: got.status }).toEqual({ i, url: row.url, status: row.status });
      if (row.error) expect(String(got.error_message)).toMatch(row.error);
      else expect(got.error_message).toBeNull();
    }
  });

  test("tars hold {key}.jpg, .json, .txt for each success, members of a sample together", async () => {
    const expectedNames: string[] = [];
    const names: string[] = [];
    for (let s = 0; s < 5; s++) {
      const members = await readTar(path.join(out, `0000${s}.tar`));
      for (let m = 0; m < members.length; m += 3) {
        const k = members[m]!.name.split(".")[0];
        expect(members.slice(m, m + 3).map((x) => x.name)).toEqual([`${k}.jpg`, `${k}.json`, `${k}.txt`]);
      }
      names.push(...members.map((m) => m.name));
      expect(members.every((m) => m.mode === 0o444)).toBe(true);
    }
    rows.forEach((r, i) => {
      if (r.status === "success") expectedNames.push(`${key(i)}.jpg`, `${key(i)}.json`, `${key(i)}.txt`);
    });
    expect(names.sort()).toEqual(expectedNames.sort());
  });

  test("captions are byte-equal, json has img2dataset's fields, images are 256×256 JPEGs", async () => {
    const byKey = new Map<string, Map<string, Buffer>>();
    for (let s = 0; s < 5; s++)
      for (const m of await readTar(path.join(out, `0000${s}.tar`))) {
        const [k, ext] = m.name.split(".") as [string, string];
        if (!byKey.has(k)) byKey.set(k, new Map());
        byKey.get(k)!.set(ext, m.body);
      }
    for (const [i, row] of rows.entries()) {
      if (row.status !== "success") continue;
      const sample = byKey.get(key(i))!;
      expect(sample.get("txt")!.equals(Buffer.from(row.caption, "utf8"))).toBe(true);
      const json = JSON.parse(sample.get("json")!.toString("utf8"));
      expect(Object.keys(json)).toEqual([
        "__index_level_0__",
        "caption",
        "url",
        "key",
        "status",
        "error_message",
        "width",
        "height",
        "original_width",
        "original_height",
        "sha256",
      ]);
      expect(json).toMatchObject({
        __index_level_0__: Number(row.index),
        caption: row.caption,
        url: row.url,
        key: key(i),
        status: "success",
        error_message: null,
        width: 256,
        height: 256,
      });
      if (row.file) {
        const original = fs.readFileSync(path.join(ORIGINALS, row.file));
        expect(json.sha256).toBe(createHash("sha256").update(original).digest("hex"));
        const [w, h] = row.file.replace(".jpg", "").split("_").map(Number);
        expect([json.original_width, json.original_height]).toEqual([w, h]);
      }
      const meta = await sharp(sample.get("jpg")!).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(["jpeg", 256, 256]);
    }
  });

  test("stats count every failure reason, per shard and for the run", () => {
    const successes = rows.filter((r) => r.status === "success").length;
    expect(stats).toMatchObject({
      count: ROWS,
      successes,
      failed_to_download: rows.filter((r) => r.status === "failed_to_download").length,
      failed_to_resize: rows.filter((r) => r.status === "failed_to_resize").length,
      shards_written: 5,
      shards_skipped: 0,
    });
    expect(stats.status_dict.success).toBe(successes);
    expect(stats.status_dict["HTTP 404"]).toBe(1);
    expect(stats.status_dict[ROBOTS_DISALLOWED_ERROR]).toBe(3);
    expect(Object.values(stats.status_dict).reduce((a, b) => a + b, 0)).toBe(ROWS);
    const onDisk = JSON.parse(fs.readFileSync(path.join(out, "stats.json"), "utf8"));
    expect(onDisk).toEqual(stats);
    const shard0 = JSON.parse(fs.readFileSync(path.join(out, "00000_stats.json"), "utf8"));
    expect(Object.keys(shard0).sort()).toEqual(
      [
        "count",
        "successes",
        "failed_to_download",
        "failed_to_resize",
        "duration",
        "start_time",
        "end_time",
        "status_dict",
      ].sort(),
    );
    expect(shard0.count).toBe(SHARD_SIZE);
  });

  test("a rerun skips finished shards and re-attempts only those with transient failures (5xx, reset)", async () => {
    const shardStats = [0, 1, 2, 3, 4].map(
      (i) => JSON.parse(fs.readFileSync(path.join(out, `0000${i}_stats.json`), "utf8")) as ShardStats,
    );
    const retried = shardStats.filter((s) => transientFailures(s) > 0).length;
    expect(retried).toBeGreaterThan(0);
    const before = server.requests.length;
    const again = await downloadShards({
      input,
      output: out,
      shardSize: SHARD_SIZE,
      timeoutMs: 30_000,
      retries: 0,
      allowPrivateAddresses: true,
      saveAdditionalColumns: ["__index_level_0__"],
    });
    expect(again).toMatchObject({ shards_written: retried, shards_skipped: 5 - retried, count: ROWS });
    // only the re-attempted shards' URLs were requested again
    const requested = server.requests.slice(before).length;
    expect(requested).toBeGreaterThan(0);
    expect(requested).toBeLessThanOrEqual(retried * SHARD_SIZE * 6);
  });
});

test("a server slower than the deadline: failed_to_download with the deadline named, retried, re-attempted by a rerun", async () => {
  // the `slow` fault trickles its body over 10 s, so it can only end by the 300 ms deadline, however
  // loaded the machine; nothing else in this run waits on it
  const url = `${server.url}/fault/slow/389_535.jpg`;
  const file = writeParquet(path.join(work, "slow.parquet"), {
    URL: { data: [url], type: "STRING" },
    TEXT: { data: ["a slow image"], type: "STRING" },
  });
  const out = path.join(work, "slow");
  const run = { input: file, output: out, timeoutMs: 300, retryBaseDelayMs: 10, allowPrivateAddresses: true };
  const requests = () => server.requests.filter((r) => r.path === "/fault/slow/389_535.jpg").length;
  // (no image at all came through: the run says so, after writing its shard)
  const failed = "0 of 1 images downloaded: is the network up? (1× timeout after 300 ms)";
  await expect(downloadShards({ ...run, retries: 1 })).rejects.toThrow(failed);
  expect(requests()).toBe(2);
  const [row] = await readParquetRows(path.join(out, "00000.parquet"));
  expect(row).toMatchObject({ url, status: "failed_to_download", error_message: "timeout after 300 ms" });
  // a timeout is transient: a rerun does not take the shard as complete, it asks again
  await expect(downloadShards({ ...run, retries: 0 })).rejects.toThrow(failed);
  expect(requests()).toBe(3);
});

test("a shard holds its samples in row order whatever order their downloads finish in, so a rerun writes the same members", async () => {
  // the first image trickles in over 600 ms, the other five come at once: written as they finish,
  // 000000000 would come last
  const urls = [
    `${server.url}/fault/slow/${ORIGINAL_NAMES[0]}?ms=600`,
    ...ORIGINAL_NAMES.slice(1, 6).map((n) => `${server.url}/images/${n}`),
  ];
  const file = writeParquet(path.join(work, "order.parquet"), {
    URL: { data: urls, type: "STRING" },
    TEXT: { data: urls.map((_, i) => `image ${i}`), type: "STRING" },
  });
  const run = (out: string) =>
    downloadShards({
      input: file,
      output: path.join(work, out),
      concurrency: 8,
      allowPrivateAddresses: true,
    });
  await run("order-a");
  const members = (await readTar(path.join(work, "order-a", "00000.tar"))).map((m) => m.name);
  const keys = members.filter((n) => n.endsWith(".jpg")).map((n) => n.slice(0, -4));
  expect(keys).toEqual([0, 1, 2, 3, 4, 5].map((i) => String(i).padStart(9, "0")));
  // each sample's members together
  expect(members.slice(0, 3)).toEqual(["000000000.jpg", "000000000.json", "000000000.txt"]);
  // the same names and bytes in the same order (the tar headers' mtimes are the write times)
  await run("order-b");
  const again = await readTar(path.join(work, "order-b", "00000.tar"));
  const first = await readTar(path.join(work, "order-a", "00000.tar"));
  expect(again.map((m) => m.name)).toEqual(members);
  expect(again.every((m, i) => m.body.equals(first[i]!.body))).toBe(true);
});
