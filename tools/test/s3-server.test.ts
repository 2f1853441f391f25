import fs from "node:fs";
import { Readable } from "node:stream";
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, expect, test } from "vitest";
import { fixturePath, type S3Server, s3ClientConfig, startS3Server } from "../src/index.js";

let server: S3Server;
let s3: S3Client;
beforeAll(async () => {
  server = await startS3Server({ buckets: ["shards", "other"] });
  s3 = new S3Client(s3ClientConfig(server));
});
afterAll(async () => {
  s3.destroy();
  await server.close();
});

const TAR = fs.readFileSync(fixturePath("webdataset/tendata.tar"));

async function getBytes(Key: string, Range?: string): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: "shards", Key, Range }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

test("PutObject then GetObject returns the same bytes", async () => {
  await s3.send(new PutObjectCommand({ Bucket: "shards", Key: "a/00000.tar", Body: TAR }));
  expect((await getBytes("a/00000.tar")).equals(TAR)).toBe(true);
});

test("a streamed upload (SDK default: aws-chunked body with a CRC32 trailer) is stored without framing", async () => {
  const parts = [TAR.subarray(0, 10_000), TAR.subarray(10_000)];
  await s3.send(
    new PutObjectCommand({
      Bucket: "shards",
      Key: "a/stream.tar",
      Body: Readable.from(parts),
      ContentLength: TAR.length,
    }),
  );
  const head = await s3.send(new HeadObjectCommand({ Bucket: "shards", Key: "a/stream.tar" }));
  expect(head.ContentLength).toBe(TAR.length);
  expect(head.ContentEncoding).toBeUndefined();
  expect((await getBytes("a/stream.tar")).equals(TAR)).toBe(true);
});

test("GetObject streams a byte range", async () => {
  await s3.send(new PutObjectCommand({ Bucket: "shards", Key: "a/range.tar", Body: TAR }));
  const res = await s3.send(
    new GetObjectCommand({ Bucket: "shards", Key: "a/range.tar", Range: "bytes=512-1023" }),
  );
  expect(res.ContentRange).toBe(`bytes 512-1023/${TAR.length}`);
  const chunks: Buffer[] = [];
  for await (const c of res.Body as Readable) chunks.push(c as Buffer);
  expect(Buffer.concat(chunks).equals(TAR.subarray(512, 1024))).toBe(true);
});

test("ListObjectsV2 lists keys under a prefix with sizes, and paginates", async () => {
  for (const k of ["list/00000.tar", "list/00001.tar", "list/00002.tar", "other/x.tar"]) {
    await s3.send(new PutObjectCommand({ Bucket: "shards", Key: k, Body: Buffer.from(k) }));
  }
  const keys: [string, number][] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: "shards", Prefix: "list/", MaxKeys: 2, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) keys.push([o.Key!, o.Size!]);
    token = page.NextContinuationToken;
  } while (token);
  expect(keys).toEqual([
    ["list/00000.tar", 14],
    ["list/00001.tar", 14],
    ["list/00002.tar", 14],
  ]);
});

test("multipart upload assembles the parts in order", async () => {
  const Key = "mp/big.bin";
  const part1 = Buffer.alloc(5 * 1024 * 1024, 1); // S3's minimum size for all but the last part
  const part2 = TAR;
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: "shards", Key }));
  const p1 = await s3.send(
    new UploadPartCommand({ Bucket: "shards", Key, UploadId, PartNumber: 1, Body: part1 }),
  );
  const p2 = await s3.send(
    new UploadPartCommand({
      Bucket: "shards",
      Key,
      UploadId,
      PartNumber: 2,
      Body: Readable.from([part2]),
      ContentLength: part2.length,
    }),
  );
  await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket: "shards",
      Key,
      UploadId,
      MultipartUpload: {
        Parts: [
          { PartNumber: 1, ETag: p1.ETag },
          { PartNumber: 2, ETag: p2.ETag },
        ],
      },
    }),
  );
  expect((await getBytes(Key)).equals(Buffer.concat([part1, part2]))).toBe(true);
});

test("DeleteObject removes a key; GetObject of a missing key is NoSuchKey", async () => {
  await s3.send(new PutObjectCommand({ Bucket: "shards", Key: "del/x", Body: "x" }));
  await s3.send(new DeleteObjectCommand({ Bucket: "shards", Key: "del/x" }));
  await expect(getBytes("del/x")).rejects.toMatchObject({ name: "NoSuchKey" });
});

test("an unknown bucket is NoSuchBucket; wrong credentials are refused", async () => {
  await expect(
    s3.send(new PutObjectCommand({ Bucket: "missing", Key: "k", Body: "x" })),
  ).rejects.toMatchObject({
    name: "NoSuchBucket",
  });
  const bad = new S3Client({
    ...s3ClientConfig(server),
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "wrong" },
  });
  try {
    await expect(
      bad.send(new PutObjectCommand({ Bucket: "shards", Key: "k", Body: "x" })),
    ).rejects.toMatchObject({
      name: "SignatureDoesNotMatch",
    });
  } finally {
    bad.destroy();
  }
});

test("close() removes the temporary folder and is idempotent", async () => {
  const own = await startS3Server({ buckets: ["b"] });
  const client = new S3Client(s3ClientConfig(own));
  await client.send(new PutObjectCommand({ Bucket: "b", Key: "k", Body: "x" }));
  client.destroy();
  expect(fs.existsSync(own.directory)).toBe(true);
  await Promise.all([own.close(), own.close()]);
  expect(fs.existsSync(own.directory)).toBe(false);
});

test("keys with spaces, unicode and reserved characters round-trip (and their signatures verify)", async () => {
  const keys = ["odd/a b+c=d&e.tar", "odd/සිංහල/දත්ත.txt", "odd/(x)!*'~@$,;:.tar", "odd/percent%20literal"];
  for (const Key of keys) {
    await s3.send(new PutObjectCommand({ Bucket: "shards", Key, Body: Buffer.from(Key) }));
    expect((await getBytes(Key)).toString(), Key).toBe(Key);
  }
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: "shards", Prefix: "odd/" }));
  expect(listed.Contents!.map((o) => o.Key).sort()).toEqual([...keys].sort());
});

test("a delimiter groups keys into CommonPrefixes, also across pages", async () => {
  for (const k of ["tree/a/1", "tree/a/2", "tree/b/1", "tree/c", "tree/d/1"]) {
    await s3.send(new PutObjectCommand({ Bucket: "shards", Key: k, Body: "x" }));
  }
  const prefixes: string[] = [];
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: "shards",
        Prefix: "tree/",
        Delimiter: "/",
        MaxKeys: 2,
        ContinuationToken: token,
      }),
    );
    for (const p of page.CommonPrefixes ?? []) prefixes.push(p.Prefix!);
    for (const o of page.Contents ?? []) keys.push(o.Key!);
    token = page.NextContinuationToken;
  } while (token);
  expect(prefixes).toEqual(["tree/a/", "tree/b/", "tree/d/"]);
  expect(keys).toEqual(["tree/c"]);
});

test("CopyObject, DeleteObjects and HeadObject of a missing key", async () => {
  await s3.send(
    new PutObjectCommand({ Bucket: "shards", Key: "cp/src", Body: TAR, ContentType: "application/x-tar" }),
  );
  await s3.send(new CopyObjectCommand({ Bucket: "other", Key: "cp/dst", CopySource: "shards/cp/src" }));
  const copied = await s3.send(new GetObjectCommand({ Bucket: "other", Key: "cp/dst" }));
  expect(copied.ContentType).toBe("application/x-tar");
  expect(Buffer.from(await copied.Body!.transformToByteArray()).equals(TAR)).toBe(true);
  const res = await s3.send(
    new DeleteObjectsCommand({
      Bucket: "other",
      Delete: { Objects: [{ Key: "cp/dst" }, { Key: "never-there" }] },
    }),
  );
  expect(res.Deleted?.map((d) => d.Key)).toEqual(["cp/dst", "never-there"]);
  await expect(s3.send(new HeadObjectCommand({ Bucket: "other", Key: "cp/dst" }))).rejects.toMatchObject({
    $metadata: { httpStatusCode: 404 },
  });
});

test("user metadata and content type come back on GetObject", async () => {
  await s3.send(
    new PutObjectCommand({
      Bucket: "shards",
      Key: "meta/x",
      Body: "{}",
      ContentType: "application/json",
      Metadata: { shard: "00007" },
    }),
  );
  const res = await s3.send(new GetObjectCommand({ Bucket: "shards", Key: "meta/x" }));
  expect(res.ContentType).toBe("application/json");
  expect(res.Metadata).toEqual({ shard: "00007" });
});

test("an unknown access key and unsigned requests are refused", async () => {
  const bad = new S3Client({
    ...s3ClientConfig(server),
    credentials: { accessKeyId: "NOPE", secretAccessKey: "S3RVER" },
  });
  try {
    await expect(bad.send(new ListObjectsV2Command({ Bucket: "shards" }))).rejects.toMatchObject({
      name: "InvalidAccessKeyId",
    });
  } finally {
    bad.destroy();
  }
  const anonymous = await fetch(`${server.endpoint}/shards/a/00000.tar`);
  expect(anonymous.status).toBe(403);
  expect(await anonymous.text()).toContain("<Code>AccessDenied</Code>");
});

test("requests are recorded without credentials", () => {
  expect(server.requests.some((r) => r.method === "PUT")).toBe(true);
  expect(server.requests.some((r) => r.range === "bytes=512-1023")).toBe(true);
  expect(JSON.stringify(server.requests)).not.toContain("Signature=");
});
