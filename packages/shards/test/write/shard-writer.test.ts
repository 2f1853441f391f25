import fs from "node:fs";
import path from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { fixturePath, type S3Server, s3ClientConfig, startS3Server } from "@laion/test-servers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { localFolderStorage, ShardWriter, TarWriter, WebDataset } from "../../src/index.js";
import { collect, extractWithSystemTar, tempDir } from "../read/helpers.js";

const tmp = tempDir("shard-writer-");
afterAll(tmp.cleanup);
const photo = fs.readFileSync(fixturePath("images", "originals", "123_456.jpg"));
const sample = (i: number) => ({
  __key__: String(i).padStart(9, "0"),
  jpg: photo,
  txt: `සිංහල caption ${i}`,
  json: { index: i, width: 123 },
});

describe("ShardWriter", () => {
  test("rolls over at maxCount; the system tar and our reader read back every member byte-exact", async () => {
    const output = path.join(tmp.dir, "count");
    const seen: string[] = [];
    const writer = new ShardWriter({ output, maxCount: 10, onShard: (info) => void seen.push(info.name) });
    for (let i = 0; i < 25; i++) await writer.write(sample(i));
    const shards = await writer.close();
    expect(shards.map((s) => [s.name, s.samples])).toEqual([
      ["00000.tar", 10],
      ["00001.tar", 10],
      ["00002.tar", 5],
    ]);
    expect(seen).toEqual(["00000.tar", "00001.tar", "00002.tar"]);
    for (const s of shards) expect(fs.statSync(path.join(output, s.name)).size).toBe(s.bytes);
    expect(fs.readdirSync(output).sort()).toEqual(["00000.tar", "00001.tar", "00002.tar"]);
    const members = extractWithSystemTar(path.join(output, "00001.tar"));
    expect([...members.keys()].slice(0, 3)).toEqual(["000000010.jpg", "000000010.json", "000000010.txt"]);
    expect(members.get("000000010.jpg")?.equals(photo)).toBe(true);
    expect(JSON.parse(members.get("000000012.json")?.toString() ?? "")).toEqual({ index: 12, width: 123 });
    const read = await collect(WebDataset(`${output}/{00000..00002}.tar`, { decode: { txt: true } }));
    expect(read.map((s) => s.txt)).toEqual(Array.from({ length: 25 }, (_, i) => `සිංහල caption ${i}`));
  });

  test("rolls over at maxSize, and numbers shards from firstShard with a custom name", async () => {
    const output = path.join(tmp.dir, "size");
    const writer = new ShardWriter({
      output,
      maxSize: 3 * photo.length,
      firstShard: 7,
      shardName: (i) => `codes-${i}.tar`,
    });
    for (let i = 0; i < 7; i++) await writer.write(sample(i));
    const shards = await writer.close();
    expect(shards.map((s) => s.name)).toEqual(["codes-7.tar", "codes-8.tar", "codes-9.tar"]);
    expect(shards.map((s) => s.samples)).toEqual([3, 3, 1]);
  });

  test("abort keeps the finished shards and leaves nothing of the unfinished one", async () => {
    const output = path.join(tmp.dir, "abort");
    const writer = new ShardWriter({ output, maxCount: 4 });
    for (let i = 0; i < 6; i++) await writer.write(sample(i));
    await writer.abort();
    expect(fs.readdirSync(output)).toEqual(["00000.tar"]);
    await expect(writer.write(sample(7))).rejects.toThrow(/after close\(\)/);
  });

  test("bad limits and keys are errors naming them", async () => {
    expect(() => new ShardWriter({ output: tmp.dir, maxCount: 0 })).toThrow(
      /maxCount must be an integer ≥ 1, got 0/,
    );
    const writer = await TarWriter.open({ storage: localFolderStorage(tmp.dir), name: "bad.tar" });
    await expect(writer.write({ __key__: "a.b", txt: "x" })).rejects.toThrow(/sample key "a.b" must be/);
    await writer.abort();
    expect(fs.existsSync(path.join(tmp.dir, "bad.tar"))).toBe(false);
  });

  test("an unwritable output fails before any shard, naming the folder", async () => {
    const file = path.join(tmp.dir, "a-file");
    fs.writeFileSync(file, "x");
    const writer = new ShardWriter({ output: path.join(file, "sub") });
    await expect(writer.write(sample(0))).rejects.toThrow(/cannot write to output folder .*a-file\/sub/);
  });
});

describe("ShardWriter to s3://", () => {
  let s3: S3Server;
  beforeAll(async () => {
    s3 = await startS3Server({ buckets: ["codes"] });
  });
  afterAll(async () => s3?.close());

  test("each shard is one PutObject of the complete tar, readable back through WebDataset", async () => {
    const client = new S3Client(s3ClientConfig(s3));
    const writer = new ShardWriter({ output: "s3://codes/run1", s3Client: client, maxCount: 3 });
    for (let i = 0; i < 5; i++) await writer.write(sample(i));
    expect(await writer.close()).toHaveLength(2);
    const puts = s3.requests.filter((r) => r.method === "PUT" && r.path.includes(".tar"));
    expect(puts.map((r) => r.path.replace(/\?.*$/, ""))).toEqual([
      "/codes/run1/00000.tar",
      "/codes/run1/00001.tar",
    ]);
    const read = await collect(WebDataset("s3://codes/run1/", { s3Client: client }));
    expect(read.map((s) => s.__key__)).toEqual([
      "000000000",
      "000000001",
      "000000002",
      "000000003",
      "000000004",
    ]);
    client.destroy();
  });
});
