import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { type ImageServer, serve, startImageServer } from "@laion/test-servers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { downloadShards, PRIVATE_ADDRESS_ERROR } from "../../src/download/index.js";
import { realCaptions, statsOf, tempDir, writeParquet } from "./helpers.js";

let server: ImageServer;
let work: string;
let input: string;

beforeAll(async () => {
  server = await startImageServer();
  work = tempDir("errors");
  const captions = await realCaptions(4);
  input = writeParquet(path.join(work, "in.parquet"), {
    URL: { data: captions.map(() => `${server.url}/images/389_535.jpg`), type: "STRING" },
    TEXT: { data: captions.map((c) => c.caption), type: "STRING" },
  });
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

describe("bad columns fail before any download, naming the file, the flag and the columns", () => {
  test.each([
    [{ urlCol: "link" }, /in\.parquet has no column "link" \(--url-col\); its columns are: "URL", "TEXT"/],
    [
      { captionCol: "caption_en" },
      /has no column "caption_en" \(--caption-col\); its columns are: "URL", "TEXT"/,
    ],
    [{ saveAdditionalColumns: ["similarity"] }, /has no column "similarity" \(--save-additional-columns\)/],
  ])("%j", async (flags, message) => {
    const before = server.requests.length;
    await expect(
      downloadShards({ input, output: path.join(work, "never"), allowPrivateAddresses: true, ...flags }),
    ).rejects.toThrow(message);
    expect(server.requests.length).toBe(before);
    expect(fs.existsSync(path.join(work, "never"))).toBe(false);
  });

  test("an input without a URL column", async () => {
    const file = writeParquet(path.join(work, "nourl.parquet"), {
      link: { data: ["http://x/a.jpg"], type: "STRING" },
      TEXT: { data: ["a"], type: "STRING" },
    });
    await expect(downloadShards({ input: file, output: path.join(work, "never") })).rejects.toThrow(
      /nourl\.parquet has no URL column \(looked for "URL"\/"url"; choose one with --url-col\); its columns are: "link", "TEXT"/,
    );
  });

  test("column names match case-insensitively when unambiguous", async () => {
    const file = writeParquet(path.join(work, "lower.parquet"), {
      url: { data: [`${server.url}/images/123_456.jpg`], type: "STRING" },
      caption: { data: ["a caption"], type: "STRING" },
    });
    const stats = await statsOf(
      downloadShards({
        input: file,
        output: path.join(work, "lower"),
        allowPrivateAddresses: true,
      }),
    );
    expect(stats.successes).toBe(1);
  });
});

describe("an output that cannot be written fails before any download", () => {
  test("output below a file", async () => {
    const blocker = path.join(work, "a-file");
    fs.writeFileSync(blocker, "x");
    const before = server.requests.length;
    await expect(
      downloadShards({ input, output: path.join(blocker, "out"), allowPrivateAddresses: true }),
    ).rejects.toThrow(
      /cannot write to output folder .*a-file\/out: a parent of it is a file, not a folder \(ENOTDIR\)/,
    );
    expect(server.requests.length).toBe(before);
  });

  test("an unsupported output URL", async () => {
    await expect(downloadShards({ input, output: "gs://bucket/x" })).rejects.toThrow(
      /use a local folder or s3:\/\/bucket\/prefix/,
    );
  });
});

describe("private destinations", () => {
  test("without --allow-private-addresses, loopback is refused by address and by name, without a request", async () => {
    const port = new URL(server.url).port;
    const urls = [
      `${server.url}/images/123_456.jpg`,
      `http://localhost:${port}/images/123_456.jpg`,
      `http://[::1]:${port}/images/123_456.jpg`,
      `http://169.254.169.254/latest/meta-data/`,
    ];
    const file = writeParquet(path.join(work, "private.parquet"), {
      URL: { data: urls, type: "STRING" },
      TEXT: { data: urls.map(() => "c"), type: "STRING" },
    });
    const before = server.requests.length;
    const stats = await statsOf(
      downloadShards({
        input: file,
        output: path.join(work, "private"),
        retries: 0,
        timeoutMs: 2000,
      }),
    );
    expect(stats.status_dict).toEqual({ [PRIVATE_ADDRESS_ERROR]: urls.length });
    expect(server.requests.length).toBe(before);
  });

  test("with it, the same URLs download", async () => {
    const file = writeParquet(path.join(work, "allowed.parquet"), {
      URL: {
        data: [
          `${server.url}/images/123_456.jpg`,
          `http://localhost:${new URL(server.url).port}/images/123_456.jpg`,
        ],
        type: "STRING",
      },
      TEXT: { data: ["a", "b"], type: "STRING" },
    });
    const stats = await statsOf(
      downloadShards({
        input: file,
        output: path.join(work, "allowed"),
        allowPrivateAddresses: true,
      }),
    );
    expect(stats.successes).toBe(2);
  });
});

test("the user agent names the tool", async () => {
  const file = writeParquet(path.join(work, "ua.parquet"), {
    URL: { data: [`${server.url}/images/416_264.jpg?ua`], type: "STRING" },
    TEXT: { data: ["a"], type: "STRING" },
  });
  await downloadShards({ input: file, output: path.join(work, "ua"), allowPrivateAddresses: true });
  const req = server.requests.find((r) => r.path === "/images/416_264.jpg?ua");
  expect(req?.userAgent).toBe("laion-ts-downloader/0.1 (+https://github.com/laion-ts/laion-ts)");
});

test("bodies over --max-body-bytes are cut off while streaming", async () => {
  const file = writeParquet(path.join(work, "big.parquet"), {
    URL: {
      data: [`${server.url}/images/524_316.jpg`, `${server.url}/fault/lying-content-length-big/524_316.jpg`],
      type: "STRING",
    },
    TEXT: { data: ["a", "b"], type: "STRING" },
  });
  const stats = await statsOf(
    downloadShards({
      input: file,
      output: path.join(work, "big"),
      allowPrivateAddresses: true,
      maxBodyBytes: 1000,
      retries: 0,
    }),
  );
  expect(stats.status_dict).toEqual({ "body larger than max-body-bytes (1000)": 2 });
});

test("the cap holds without any Content-Length (chunked) and counts decompressed bytes (gzip bomb)", async () => {
  const big = Buffer.alloc(200_000, 7);
  const chunked = await serve((req, res) => {
    if (req.url === "/gzip") {
      res.writeHead(200, { "Content-Type": "image/jpeg", "Content-Encoding": "gzip" });
      res.end(zlib.gzipSync(big)); // ~200 bytes on the wire, 200 kB once inflated
      return;
    }
    res.writeHead(200, { "Content-Type": "image/jpeg" }); // no Content-Length: chunked
    res.write(big.subarray(0, 100_000));
    res.end(big.subarray(100_000));
  });
  const base = chunked.url;
  try {
    const file = writeParquet(path.join(work, "chunked.parquet"), {
      URL: { data: [`${base}/chunked`, `${base}/gzip`], type: "STRING" },
      TEXT: { data: ["a", "b"], type: "STRING" },
    });
    const stats = await statsOf(
      downloadShards({
        input: file,
        output: path.join(work, "chunked"),
        allowPrivateAddresses: true,
        maxBodyBytes: 50_000,
        retries: 0,
      }),
    );
    expect(stats.status_dict).toEqual({ "body larger than max-body-bytes (50000)": 2 });
  } finally {
    await chunked.close();
  }
});

test("a disk that fills up mid-shard fails the write with a clear error instead of hanging", async () => {
  const { createWebDatasetWriter } = await import("../../src/download/index.js");
  // /dev/full: every write fails with ENOSPC, as on a full disk
  const storage = {
    location: "/mnt/full",
    probe: async () => {},
    exists: async () => false,
    create: async () => ({
      stream: fs.createWriteStream("/dev/full"),
      commit: async () => {},
      abort: async () => {},
    }),
    put: async () => {},
    read: async () => "",
    removeStale: async () => 0,
  };
  const writer = await createWebDatasetWriter({
    storage,
    name: "00000",
    encodeFormat: "jpg",
    saveCaption: true,
    additionalColumns: [],
  });
  const meta = {
    url: "u",
    key: "000000",
    status: "success" as const,
    error_message: null,
    width: 1,
    height: 1,
    original_width: 1,
    original_height: 1,
    sha256: null,
  };
  const write = async () => {
    for (let i = 0; i < 200; i++)
      await writer.write({ meta: { ...meta, key: `0000${i}` }, caption: "c", image: new Uint8Array(20_000) });
  };
  await expect(write()).rejects.toThrow("disk full writing 00000.tar in /mnt/full (ENOSPC)");
});
