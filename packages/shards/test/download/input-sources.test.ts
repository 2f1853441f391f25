import fs from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
  fixturePath,
  type ImageServer,
  type S3Server,
  s3ClientConfig,
  startImageServer,
  startS3Server,
} from "@laion/test-servers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { formatFromPath, type InputRow, openInput } from "../../src/download/index.js";
import { tempDir } from "./helpers.js";

// 25 real LAION rows (url, caption) from img2dataset's test_1000.parquet (MIT, see fixtures/LICENSE.img2dataset);
// laion-25.jsonl.zst is the same file compressed with the zstd 1.5 CLI (-19).
const JSONL = path.join(import.meta.dirname, "fixtures", "laion-25.jsonl");
const ZST = `${JSONL}.zst`;
const PARQUET = fixturePath("laion", "test_1000.parquet");

async function rows(input: string | string[], extra: Record<string, unknown> = {}): Promise<InputRow[]> {
  const opened = await openInput({ input, ...extra });
  const out: InputRow[] = [];
  for await (const r of opened.rows({ shardSize: 10 })) out.push(r);
  return out;
}
const pairs = (rs: InputRow[]) => rs.map((r) => [r.url, r.caption, r.shardId, r.indexInShard]);

let work: string;
let expected: InputRow[];
beforeAll(async () => {
  work = tempDir("input-sources");
  expected = await rows(JSONL);
  fs.writeFileSync(path.join(work, "rows.jsonl.gz"), gzipSync(fs.readFileSync(JSONL)));
  fs.copyFileSync(ZST, path.join(work, "rows.jsonl.zst"));
  const csv = (fs.readFileSync(JSONL, "utf8").trim().split("\n") as string[])
    .map((l) => JSON.parse(l) as { url: string; caption: string })
    .map((r) => [r.url, r.caption].map((v) => `"${v.replace(/"/g, '""')}"`).join(","));
  fs.writeFileSync(path.join(work, "rows.csv.gz"), gzipSync(`url,caption\n${csv.join("\n")}\n`));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe("compressed text inputs", () => {
  test("the format is read through .gz / .zst; parquet.gz is refused with the reason", async () => {
    expect(formatFromPath("a/rows.jsonl.zst")).toBe("jsonl");
    expect(formatFromPath("rows.CSV.gz")).toBe("csv");
    expect(formatFromPath("https://h/x.tsv.gz?sig=1")).toBe("tsv");
    expect(expected).toHaveLength(25);
    const pq = path.join(work, "x.parquet.gz");
    fs.writeFileSync(pq, gzipSync(fs.readFileSync(PARQUET)));
    await expect(rows(pq)).rejects.toThrow(/x\.parquet\.gz: a parquet file is compressed inside/);
  });

  test("jsonl.gz, jsonl.zst and csv.gz give exactly the rows of the plain file", async () => {
    for (const name of ["rows.jsonl.gz", "rows.jsonl.zst", "rows.csv.gz"]) {
      expect(pairs(await rows(path.join(work, name))), name).toEqual(pairs(expected));
    }
  });

  test("a corrupt .zst names the file", async () => {
    const bad = path.join(work, "bad.jsonl.zst");
    const bytes = fs.readFileSync(ZST);
    fs.writeFileSync(bad, bytes.subarray(0, bytes.length - 40));
    await expect(rows(bad)).rejects.toThrow(/bad\.jsonl\.zst/);
  });
});

describe("globs and folders", () => {
  test("a glob takes its matches in sorted order, each file starting new shards", async () => {
    const dir = path.join(work, "glob");
    fs.mkdirSync(dir);
    fs.copyFileSync(JSONL, path.join(dir, "part-1.jsonl"));
    fs.copyFileSync(ZST, path.join(dir, "part-0.jsonl.zst"));
    fs.writeFileSync(path.join(dir, "notes.md"), "not an input");
    const got = await rows(path.join(dir, "part-*"));
    expect(got).toHaveLength(50);
    // 25 rows → shards 0, 1, 2 for the first file; the second file starts at shard 3.
    expect(got[25]).toMatchObject({ shardId: 3, indexInShard: 0, url: expected[0]?.url });
    expect(pairs(await rows(dir))).toEqual(pairs(got));
    await expect(rows(path.join(dir, "nothing-*.csv"))).rejects.toThrow(
      /input glob .*nothing-\*\.csv matched no files/,
    );
  });
});

describe("remote inputs", () => {
  let server: ImageServer;
  let s3: S3Server;
  let client: S3Client;
  beforeAll(async () => {
    server = await startImageServer({
      extraFiles: {
        "/rows.jsonl.zst": ZST,
        "/rows.csv.gz": path.join(work, "rows.csv.gz"),
        "/meta.parquet": PARQUET,
      },
    });
    s3 = await startS3Server({ buckets: ["meta"] });
    client = new S3Client(s3ClientConfig(s3));
    await client.send(
      new PutObjectCommand({ Bucket: "meta", Key: "in/a.jsonl.zst", Body: fs.readFileSync(ZST) }),
    );
    await client.send(
      new PutObjectCommand({ Bucket: "meta", Key: "in/b.parquet", Body: fs.readFileSync(PARQUET) }),
    );
    await client.send(new PutObjectCommand({ Bucket: "meta", Key: "in/readme.md", Body: "x" }));
  });
  afterAll(async () => {
    client?.destroy();
    await s3?.close();
    await server?.close();
  });

  test("http(s) URLs: compressed text streamed, parquet read with range requests", async () => {
    expect(pairs(await rows(`${server.url}/files/rows.jsonl.zst`))).toEqual(pairs(expected));
    expect(pairs(await rows(`${server.url}/files/rows.csv.gz`))).toEqual(pairs(expected));
    const local = await rows(PARQUET);
    const remote = await rows(`${server.url}/files/meta.parquet`);
    expect(remote).toHaveLength(1000);
    expect(pairs(remote)).toEqual(pairs(local));
    const ranged = server.requests.filter((r) => r.path === "/files/meta.parquet" && r.range);
    expect(ranged.length).toBeGreaterThan(0);
    await expect(rows(`${server.url}/files/missing.jsonl`)).rejects.toThrow(/missing\.jsonl: HTTP 404/);
  });

  test("s3:// objects and an s3://bucket/prefix/ of inputs", async () => {
    const s3Params = { s3Client: client };
    expect(pairs(await rows("s3://meta/in/a.jsonl.zst", s3Params))).toEqual(pairs(expected));
    const all = await rows("s3://meta/in/", s3Params);
    expect(all).toHaveLength(25 + 1000);
    expect(all[25]).toMatchObject({ shardId: 3, indexInShard: 0 });
    expect(pairs(all.slice(25))).toEqual(
      pairs(await rows(PARQUET)).map(([u, c, s, i]) => [u, c, (s as number) + 3, i]),
    );
  });
});
