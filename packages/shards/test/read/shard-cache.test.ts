import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import {
  type ImageServer,
  type S3Server,
  s3ClientConfig,
  startImageServer,
  startS3Server,
} from "@laion/test-servers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ShardWriter, WebDataset } from "../../src/index.js";
import { cacheName } from "../../src/read/shard-cache.js";
import { collect, shard, tempDir } from "./helpers.js";

const tmp = tempDir("shard-cache-");
afterAll(tmp.cleanup);
const keys = (samples: { __key__: string }[]) => samples.map((s) => s.__key__);
const NAMES = ["tendata.tar", "mpdata.tar", "sample.tgz"];

describe("cacheDir for http(s) shards", () => {
  let server: ImageServer;
  beforeAll(async () => {
    server = await startImageServer();
  });
  afterAll(() => server.close());
  const urls = () => NAMES.map((n) => `${server.url}/files/webdataset/${n}`);
  const gets = (name: string) => server.requests.filter((r) => r.path.endsWith(`/${name}`)).length;

  test("each shard is downloaded once over many epochs and readers; the samples are those of the remote shard", async () => {
    const cacheDir = path.join(tmp.dir, "http");
    const direct = keys(await collect(WebDataset(urls(), { shuffleShards: true, seed: 1 })));
    const before = NAMES.map(gets);
    for (let epoch = 0; epoch < 3; epoch++) {
      const a = WebDataset(urls(), { shuffleShards: true, seed: 1, epoch, cacheDir });
      const b = WebDataset(urls(), { shuffleShards: true, seed: 1, epoch, cacheDir });
      // Two readers at once on the same cache: still one download per shard.
      const [ka, kb] = await Promise.all([collect(a), collect(b)]);
      expect(keys(ka)).toEqual(keys(kb));
      if (epoch === 0) expect(keys(ka)).toEqual(direct);
    }
    expect(NAMES.map(gets).map((n, i) => n - (before[i] as number))).toEqual([1, 1, 1]);
    const files = fs.readdirSync(cacheDir).sort();
    expect(files).toHaveLength(3);
    expect(files.every((f) => /^[0-9a-f]{64}\.(tar|tgz)$/.test(f))).toBe(true);
    // The cached copy is the remote file, byte for byte.
    const sizes = NAMES.map((n) => fs.statSync(shard(n)).size).sort();
    expect(files.map((f) => fs.statSync(path.join(cacheDir, f)).size).sort()).toEqual(sizes);
  });

  test("cacheLimitBytes evicts the least recently used shard; an evicted shard is downloaded again", async () => {
    const cacheDir = path.join(tmp.dir, "lru");
    const [tendata, mpdata, sample] = urls() as [string, string, string];
    const limit = fs.statSync(shard("tendata.tar")).size + fs.statSync(shard("mpdata.tar")).size;
    const read = (url: string) => collect(WebDataset(url, { cacheDir, cacheLimitBytes: limit }));
    const before = NAMES.map(gets);
    await read(tendata);
    await read(mpdata);
    await read(tendata); // tendata is now more recent than mpdata
    await read(sample); // over the limit: mpdata goes
    await read(tendata); // still cached
    await read(mpdata); // downloaded again
    expect(NAMES.map(gets).map((n, i) => n - (before[i] as number))).toEqual([1, 2, 1]);
    const total = fs
      .readdirSync(cacheDir)
      .reduce((sum, f) => sum + fs.statSync(path.join(cacheDir, f)).size, 0);
    expect(total).toBeLessThanOrEqual(limit + fs.statSync(shard("sample.tgz")).size);
  });

  test("a failed download leaves nothing in the cache and is reported under the handler", async () => {
    const cacheDir = path.join(tmp.dir, "fail");
    const url = `${server.url}/files/webdataset/missing.tar`;
    await expect(collect(WebDataset(url, { cacheDir }))).rejects.toThrow(`${url}: cannot open: HTTP 404`);
    expect(fs.readdirSync(cacheDir)).toEqual([]);
    // A shard over maxShardBytes is refused while downloading, and leaves nothing either.
    const big = `${server.url}/files/webdataset/tendata.tar`;
    await expect(collect(WebDataset(big, { cacheDir, maxShardBytes: 4096 }))).rejects.toThrow(
      /larger than maxShardBytes \(4096 bytes\)/,
    );
    expect(fs.readdirSync(cacheDir)).toEqual([]);
  });

  test("a lock left by a dead process is taken over; a live one is waited for", async () => {
    const cacheDir = path.join(tmp.dir, "locks");
    fs.mkdirSync(cacheDir);
    const url = urls()[0] as string;
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid as number;
    const lock = path.join(cacheDir, `${cacheName(url)}.lock`);
    const holder = (pid: number) =>
      JSON.stringify({ pid, host: hostname(), started_at: new Date().toISOString() });
    fs.writeFileSync(lock, holder(dead));
    expect(await collect(WebDataset(url, { cacheDir }))).toHaveLength(100);
    expect(fs.existsSync(lock)).toBe(false);
    // A live holder (this process, standing in for another reader): the reader waits until the lock goes.
    const other = path.join(cacheDir, `${cacheName(urls()[1] as string)}.lock`);
    fs.writeFileSync(other, holder(process.pid));
    let done = false;
    const reading = collect(WebDataset(urls()[1] as string, { cacheDir })).then((s) => {
      done = true;
      return s;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(done).toBe(false);
    fs.rmSync(other);
    expect(await reading).toHaveLength(100);
  });
});

describe("cacheDir for s3:// shards", () => {
  let s3: S3Server;
  beforeAll(async () => {
    s3 = await startS3Server({ buckets: ["shards"] });
  });
  afterAll(async () => s3?.close());

  test("resampling over cached s3 shards makes one GetObject per shard", async () => {
    const client = new S3Client(s3ClientConfig(s3));
    const writer = new ShardWriter({ output: "s3://shards/p", s3Client: client, maxCount: 10 });
    for (let i = 0; i < 30; i++) await writer.write({ __key__: `k${i}`, txt: `caption ${i}` });
    await writer.close();
    const cacheDir = path.join(tmp.dir, "s3");
    const samples = await collect(
      WebDataset("s3://shards/p/", { s3Client: client, resample: true, seed: 2, cacheDir }),
      200,
    );
    expect(samples).toHaveLength(200);
    const getObjects = s3.requests.filter((r) => r.method === "GET" && /\/p\/0000\d\.tar/.test(r.path));
    expect(getObjects).toHaveLength(3);
    client.destroy();
  });
});
