import fs from "node:fs";
import path from "node:path";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { type ImageServer, type S3Server, startImageServer, startS3Server } from "@laion/test-servers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { downloadShards } from "../../src/download/index.js";
import { listDir, ORIGINAL_NAMES, readTar, realCaptions, tempDir, writeParquet } from "./helpers.js";

let server: ImageServer;
let work: string;
let input: string;
const ROWS = 23;
const SHARD_SIZE = 5; // 5 shards, the last with 3 rows

beforeAll(async () => {
  server = await startImageServer();
  work = tempDir("s3");
  const captions = await realCaptions(ROWS);
  input = writeParquet(path.join(work, "in.parquet"), {
    URL: {
      data: captions.map((_, i) => `${server.url}/images/${ORIGINAL_NAMES[i % ORIGINAL_NAMES.length]}`),
      type: "STRING",
    },
    TEXT: { data: captions.map((c) => c.caption), type: "STRING" },
  });
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

describe("--output s3://bucket/prefix", () => {
  let s3: S3Server;
  let client: S3Client;
  beforeAll(async () => {
    s3 = await startS3Server({ buckets: ["laion"] });
    client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
  });
  afterAll(async () => {
    client?.destroy();
    await s3?.close();
  });

  test("writes the same objects as a local run, and a rerun skips them", async () => {
    const params = {
      input,
      shardSize: SHARD_SIZE,
      allowPrivateAddresses: true,
      s3Endpoint: s3.endpoint,
      region: s3.region,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    };
    const stats = await downloadShards({ ...params, output: "s3://laion/runs/webdataset" });
    expect(stats).toMatchObject({
      count: ROWS,
      successes: ROWS,
      shards_written: 5,
      output: "s3://laion/runs/webdataset",
    });
    const listed = await client.send(
      new ListObjectsV2Command({ Bucket: "laion", Prefix: "runs/webdataset/" }),
    );
    const keys = (listed.Contents ?? [])
      .map((o) => o.Key!.replace("runs/webdataset/", ""))
      .filter((k) => !k.startsWith(".")) // the run manifest, checked in rerun.test.ts
      .sort();
    const local = path.join(work, "local");
    await downloadShards({ ...params, output: local });
    expect(keys).toEqual(listDir(local));

    const obj = await client.send(
      new GetObjectCommand({ Bucket: "laion", Key: "runs/webdataset/00001.tar" }),
    );
    const tarFile = path.join(work, "00001-from-s3.tar");
    fs.writeFileSync(tarFile, await obj.Body!.transformToByteArray());
    const members = (await readTar(tarFile)).map((m) => m.name).sort();
    expect(members).toEqual((await readTar(path.join(local, "00001.tar"))).map((m) => m.name).sort());
    expect(members).toHaveLength(15);

    const again = await downloadShards({ ...params, output: "s3://laion/runs/webdataset" });
    expect(again).toMatchObject({ shards_written: 0, shards_skipped: 5, successes: ROWS });
  });

  test("a bucket that does not exist fails before any download", async () => {
    const before = server.requests.length;
    await expect(
      downloadShards({
        input,
        output: "s3://no-such-bucket/x",
        allowPrivateAddresses: true,
        s3Endpoint: s3.endpoint,
        region: s3.region,
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      }),
    ).rejects.toThrow(/cannot write to output s3:\/\/no-such-bucket\/x: NoSuchBucket/);
    expect(server.requests.length).toBe(before);
  });
});

test("--worker-index/--worker-count: workers write disjoint shards that together make the whole dataset", async () => {
  const out = path.join(work, "split");
  const runs = [];
  for (let workerIndex = 0; workerIndex < 3; workerIndex++)
    runs.push(
      await downloadShards({
        input,
        output: out,
        shardSize: SHARD_SIZE,
        allowPrivateAddresses: true,
        workerIndex,
        workerCount: 3,
      }),
    );
  expect(runs.map((r) => r.shards_written)).toEqual([2, 2, 1]); // shards {0,3}, {1,4}, {2}
  expect(runs.reduce((n, r) => n + r.count, 0)).toBe(ROWS);
  const files = listDir(out);
  expect(files.filter((f) => f.endsWith(".tar"))).toEqual([
    "00000.tar",
    "00001.tar",
    "00002.tar",
    "00003.tar",
    "00004.tar",
  ]);
  expect(files.filter((f) => f.startsWith("stats"))).toEqual([
    "stats_worker_0_of_3.json",
    "stats_worker_1_of_3.json",
    "stats_worker_2_of_3.json",
  ]);
  const whole = path.join(work, "whole");
  await downloadShards({ input, output: whole, shardSize: SHARD_SIZE, allowPrivateAddresses: true });
  const names = async (dir: string) => {
    const all: string[] = [];
    for (const t of listDir(dir).filter((f) => f.endsWith(".tar")))
      all.push(...(await readTar(path.join(dir, t))).map((m) => m.name));
    return all.sort();
  };
  expect(await names(out)).toEqual(await names(whole));
});

test("--split-by file: each worker reads only its input files, numbers its shards I, I+N, …; a rerun skips them", async () => {
  // three real-caption parquet files of 7, 12 and 4 rows; each URL names its file and row
  const parts = path.join(work, "parts");
  fs.mkdirSync(parts);
  const captions = await realCaptions(23);
  const sizes = [7, 12, 4];
  let row = 0;
  sizes.forEach((n, f) => {
    const rows = captions.slice(row, row + n);
    writeParquet(path.join(parts, `part-${f}.parquet`), {
      URL: {
        data: rows.map(
          (_, i) => `${server.url}/images/${ORIGINAL_NAMES[(row + i) % ORIGINAL_NAMES.length]}?f=${f}&r=${i}`,
        ),
        type: "STRING",
      },
      TEXT: { data: rows.map((c) => c.caption), type: "STRING" },
    });
    row += n;
  });
  const out = path.join(work, "by-file");
  const run = (workerIndex: number) =>
    downloadShards({
      input: path.join(parts, "*.parquet"),
      output: out,
      shardSize: SHARD_SIZE,
      allowPrivateAddresses: true,
      workerIndex,
      workerCount: 2,
      splitBy: "file",
    });
  const [w0, w1] = [await run(0), await run(1)];
  expect([w0.count, w1.count]).toEqual([7 + 4, 12]); // worker 0: part-0 and part-2; worker 1: part-1
  const tars = listDir(out).filter((f) => f.endsWith(".tar"));
  expect(tars).toEqual(["00000.tar", "00001.tar", "00002.tar", "00003.tar", "00004.tar", "00005.tar"]);
  // which input file each shard's samples come from
  const filesOf = async (tar: string) => {
    const members = await readTar(path.join(out, tar));
    const urls = members.filter((m) => m.name.endsWith(".json")).map((m) => JSON.parse(String(m.body)).url);
    return [...new Set(urls.map((u: string) => new URL(u).searchParams.get("f")))];
  };
  expect(await Promise.all(tars.map(filesOf))).toEqual([["0"], ["1"], ["0"], ["1"], ["2"], ["1"]]);
  // every input row exactly once
  const all: string[] = [];
  for (const t of tars)
    for (const m of await readTar(path.join(out, t)))
      if (m.name.endsWith(".json")) all.push(JSON.parse(String(m.body)).url);
  expect(all).toHaveLength(23);
  expect(new Set(all).size).toBe(23);
  // resumable: the same command again finds its shards complete
  const again = await run(0);
  expect([again.shards_written, again.shards_skipped]).toEqual([0, 3]);
  await expect(
    downloadShards({ input: parts, output: path.join(work, "bad"), splitBy: "files" as never }),
  ).rejects.toThrow('--split-by must be shard or file, got "files"');
});
