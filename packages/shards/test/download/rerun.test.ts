import fs from "node:fs";
import path from "node:path";
import { OutputBusyError, OutputChangedError } from "@laion/cli-kit";
import { type ImageServer, startImageServer } from "@laion/test-servers";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  DownloadFailedError,
  downloadShards,
  downloadStatus,
  isTransientError,
} from "../../src/download/index.js";
import { ORIGINAL_NAMES, readParquetRows, readTar, realCaptions, tempDir, writeParquet } from "./helpers.js";

const ROWS = 12;
let work: string;

beforeAll(() => {
  work = tempDir("rerun");
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** A parquet of ROWS real captions whose URLs point at `base` (a server that may be down), one 404 among them. */
async function inputFor(base: string, name: string): Promise<string> {
  const captions = await realCaptions(ROWS);
  const urls = captions.map((_, i) =>
    i === 5 ? `${base}/fault/404/gone.jpg` : `${base}/images/${ORIGINAL_NAMES[i % ORIGINAL_NAMES.length]}`,
  );
  return writeParquet(path.join(work, name), {
    URL: { data: urls, type: "STRING" },
    TEXT: { data: captions.map((c) => c.caption), type: "STRING" },
  });
}

// a deadline only a hang reaches: no URL here is slow on purpose, and real images must not time out on a
// loaded machine
const quick = { shardSize: 5, concurrency: 4, retries: 0, timeoutMs: 30_000, allowPrivateAddresses: true };

describe("transient failures are not final", () => {
  test("outage, then the same command once the server is back recovers every image", async () => {
    // take a free port, then close the server: the first run finds nothing listening there
    const probe = await startImageServer();
    const port = Number(new URL(probe.url).port);
    await probe.close();
    const input = await inputFor(`http://127.0.0.1:${port}`, "outage.parquet");
    const output = path.join(work, "outage");
    const logs: string[] = [];

    const err = await downloadShards({ ...quick, input, output, imageSize: 32 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadFailedError);
    expect((err as Error).message).toMatch(/^0 of 12 images downloaded: is the network up\?/);
    expect((err as Error).message).toContain("ECONNREFUSED");
    const down = await downloadStatus({ ...quick, input, output, imageSize: 32 });
    expect(down.state).toBe("partial");
    expect(down.detail).toContain("transient failures to retry");

    const server = await startImageServer({ port });
    try {
      const stats = await downloadShards({
        ...quick,
        input,
        output,
        imageSize: 32,
        onLog: (m) => logs.push(m),
      });
      // every image but the 404 (a permanent failure) is there now
      expect(stats.successes).toBe(ROWS - 1);
      expect(stats.status_dict).toEqual({ success: 11, "HTTP 404": 1 });
      expect(logs.join("\n")).toContain("3 finished shard(s) had transient failures");
      const rows = await readParquetRows(path.join(output, "00001.parquet"));
      expect(rows.map((r) => r["status"])).toEqual(["failed_to_download", ...Array(4).fill("success")]);
      expect((await downloadStatus({ ...quick, input, output, imageSize: 32 })).state).toBe("complete");

      // a third run finds nothing to retry: the 404 stays failed, no request goes out
      const before = server.requests.length;
      const again = await downloadShards({ ...quick, input, output, imageSize: 32 });
      expect(again.shards_skipped).toBe(3);
      expect(server.requests.length).toBe(before);
    } finally {
      await server.close();
    }
  });

  test("--min-success-rate fails a run below it, after writing its shards", async () => {
    const server = await startImageServer();
    try {
      const input = await inputFor(server.url, "rate.parquet");
      const output = path.join(work, "rate");
      const err = await downloadShards({ ...quick, input, output, minSuccessRate: 0.95 }).catch((e) => e);
      expect((err as Error).message).toMatch(
        /^11 of 12 images downloaded \(91\.7 %\), below --min-success-rate 0\.95/,
      );
      expect(fs.existsSync(path.join(output, "00002.tar"))).toBe(true);
    } finally {
      await server.close();
    }
  });

  test("isTransientError: network and server trouble yes, the image's own faults no", () => {
    for (const m of [
      "HTTP 503",
      "HTTP 429",
      "HTTP 500",
      "timeout after 10000 ms",
      "network error (ECONNREFUSED)",
    ])
      expect(isTransientError(m), m).toBe(true);
    expect(isTransientError("network error (ECONNRESET)")).toBe(true);
    expect(isTransientError("DNS name not found (ENOTFOUND)")).toBe(true);
    for (const m of [
      "HTTP 404",
      "HTTP 410",
      "image decode failed",
      "private address",
      "invalid HTTP response (HPE_X)",
    ])
      expect(isTransientError(m), m).toBe(false);
  });
});

describe("changed settings and busy outputs", () => {
  let server: ImageServer;
  let input: string;
  const output = () => path.join(work, "changed");
  beforeAll(async () => {
    server = await startImageServer();
    input = await inputFor(server.url, "changed.parquet");
    await downloadShards({ ...quick, input, output: output(), imageSize: 32 });
  });
  afterAll(() => server.close());

  test("another --image-size or --shard-size is refused, naming the flags; nothing is touched", async () => {
    const tarBefore = fs.readFileSync(path.join(output(), "00000.tar"));
    const err = await downloadShards({
      ...quick,
      input,
      output: output(),
      imageSize: 48,
      shardSize: 4,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutputChangedError);
    expect((err as Error).message).toContain("--image-size: 32 → 48");
    expect((err as Error).message).toContain("--shard-size: 5 → 4");
    expect((err as Error).message).toContain("--overwrite");
    expect(fs.readFileSync(path.join(output(), "00000.tar")).equals(tarBefore)).toBe(true);
    expect((await downloadStatus({ ...quick, input, output: output(), imageSize: 48 })).state).toBe(
      "changed",
    );
  });

  test("--overwrite keeps the old output as .prev-1 and writes a complete new one", async () => {
    const logs: string[] = [];
    const stats = await downloadShards({
      ...quick,
      input,
      output: output(),
      imageSize: 48,
      overwrite: true,
      onLog: (m) => logs.push(m),
    });
    expect(stats.successes).toBe(ROWS - 1);
    expect(logs.join("\n")).toContain(`kept as ${output()}.prev-1`);
    const members = await readTar(path.join(output(), "00000.tar"));
    const jpg = members.find((m) => m.name.endsWith(".jpg"))!;
    expect((await sharp(jpg.body).metadata()).width).toBe(48);
    const old = await readTar(path.join(`${output()}.prev-1`, "00000.tar"));
    expect((await sharp(old.find((m) => m.name.endsWith(".jpg"))!.body).metadata()).width).toBe(32);
  });

  test("a second downloader on a busy output (same worker index) is refused, naming the holder", async () => {
    const lock = path.join(output(), ".lock-worker-0");
    fs.writeFileSync(
      lock,
      JSON.stringify({ pid: process.pid, host: (await import("node:os")).hostname(), started_at: "now" }),
    );
    try {
      const err = await downloadShards({ ...quick, input, output: output(), imageSize: 48 }).catch((e) => e);
      expect(err).toBeInstanceOf(OutputBusyError);
      expect((err as Error).message).toContain(`in use by pid ${process.pid}`);
    } finally {
      fs.rmSync(lock);
    }
  });
});
