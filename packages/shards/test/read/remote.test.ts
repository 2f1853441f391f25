import { once } from "node:events";
import { readFileSync } from "node:fs";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { s3ClientConfig, serve, startImageServer, startS3Server } from "@laion/test-servers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type ShardError, WebDataset } from "../../src/index.js";
import { collect, shard, tarBuffer } from "./helpers.js";

describe("http(s)://", () => {
  let server: Awaited<ReturnType<typeof startImageServer>>;
  beforeAll(async () => {
    server = await startImageServer();
  });
  afterAll(() => server.close());

  test("reads shards from a web server, brace lists expanded in the URL", async () => {
    const samples = await collect(WebDataset(`${server.url}/files/webdataset/{tendata.tar,sample.tgz}`));
    expect(samples).toHaveLength(100 + 90);
    const local = await collect(WebDataset(shard("tendata.tar")));
    expect(
      Buffer.from(samples[42]?.ten as Uint8Array).equals(Buffer.from(local[42]?.ten as Uint8Array)),
    ).toBe(true);
    expect(samples[0]?.__url__).toBe(`${server.url}/files/webdataset/tendata.tar`);
  });

  test("an unreachable URL is reported with its status under every handler", async () => {
    const url = `${server.url}/files/webdataset/no-such-shard.tar`;
    await expect(collect(WebDataset(url))).rejects.toThrow(`${url}: cannot open: HTTP 404`);
    const errors: ShardError[] = [];
    const samples = await collect(
      WebDataset([url, `${server.url}/files/webdataset/mpdata.tar`], {
        handler: "ignore",
        onError: (e) => errors.push(e),
      }),
    );
    expect(samples).toHaveLength(100);
    expect(errors.map((e) => e.url)).toEqual([url]);
  });

  test("streams (never downloads whole) and closes the socket when the consumer breaks", async () => {
    // 48 MiB of 128 KiB members; the reader takes one sample and stops.
    const members = Array.from({ length: 384 }, (_, i) => ({
      name: `${String(i).padStart(5, "0")}.bin`,
      data: new Uint8Array(128 * 1024),
    }));
    const body = await tarBuffer(members);
    let sent = 0;
    let closed: Promise<unknown> = Promise.resolve();
    const big = await serve(async (_req, res) => {
      closed = once(res, "close");
      res.writeHead(200, { "content-length": body.length });
      for (let offset = 0; offset < body.length && !res.destroyed; offset += 64 * 1024) {
        sent = offset;
        if (!res.write(body.subarray(offset, offset + 64 * 1024))) {
          await Promise.race([once(res, "drain"), once(res, "close")]);
        }
      }
      res.end();
    });
    try {
      const url = `${big.url}/big.tar`;
      const [first] = await collect(WebDataset(url), 1);
      expect(first?.__key__).toBe("00000");
      await closed;
      expect(sent).toBeLessThan(body.length / 2);
    } finally {
      await big.close();
    }
  });
});

describe("s3://", () => {
  let s3: Awaited<ReturnType<typeof startS3Server>>;
  beforeAll(async () => {
    s3 = await startS3Server({ buckets: ["laion"] });
    const client = new S3Client(s3ClientConfig(s3));
    for (const name of ["tendata.tar", "sample.tgz"]) {
      await client.send(
        new PutObjectCommand({ Bucket: "laion", Key: `webdataset/${name}`, Body: readFileSync(shard(name)) }),
      );
    }
    client.destroy();
  });
  afterAll(() => s3.close());

  const credentials = () => ({ accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });

  test("reads a shard with GetObject from an S3-compatible endpoint (s3Endpoint option)", async () => {
    const samples = await collect(
      WebDataset("s3://laion/webdataset/sample.tgz", {
        s3Endpoint: s3.endpoint,
        s3: { credentials: credentials() },
      }),
    );
    expect(samples).toHaveLength(90);
    expect(samples[0]?.__url__).toBe("s3://laion/webdataset/sample.tgz");
  });

  test("s3://bucket/prefix/ lists the shards; endpoint and credentials come from the AWS env vars", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_REGION: s3.region,
    });
    try {
      const samples = await collect(WebDataset("s3://laion/webdataset/"));
      expect(samples).toHaveLength(90 + 100);
      expect(samples[0]?.__url__).toBe("s3://laion/webdataset/sample.tgz");
    } finally {
      for (const k of ["AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"]) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });

  test("a missing key is an error naming the URL", async () => {
    await expect(
      collect(
        WebDataset("s3://laion/webdataset/nope.tar", {
          s3Endpoint: s3.endpoint,
          s3: { credentials: credentials() },
        }),
      ),
    ).rejects.toThrow(/s3:\/\/laion\/webdataset\/nope\.tar: cannot open: .*(NoSuchKey|does not exist)/);
  });
});

describe("pipe:", () => {
  test("reads a command's stdout, with brace expansion", async () => {
    const samples = await collect(WebDataset(`pipe:cat ${shard("")}/{mpdata,tendata}.tar`));
    expect(samples).toHaveLength(200);
    expect(samples[0]?.__url__).toBe(`pipe:cat ${shard("mpdata.tar")}`);
  });

  test("a failing command is an error with its exit status and stderr", async () => {
    await expect(collect(WebDataset("pipe:echo oops >&2; exit 3"))).rejects.toThrow(/exited with 3: oops/);
  });
});
