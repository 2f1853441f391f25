import fs from "node:fs";
import { fixturePath, type Listening, serve } from "@laion/test-servers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createHttpFetch } from "../src/http.js";
import { fetchLaion, resolveSources } from "../src/index.js";
import { readAll } from "./helpers.js";

const T1000 = fixturePath("laion/test_1000.parquet");

let server: Listening;
let base = "";
/** Bytes the server managed to write on each connection that ignored Range (to see it was cut off). */
const sentIgnoringRange: number[] = [];

beforeAll(async () => {
  const file = fs.readFileSync(T1000);
  server = await serve((req, res) => {
    if (req.url === "/ignores-range.parquet") {
      // Answers 200 to every Range request: the whole file, then zeros forever (no Content-Length).
      if (req.method === "HEAD") return res.writeHead(200, { "content-length": file.length }).end();
      res.writeHead(200, { "content-type": "application/octet-stream" });
      let sent = 0;
      const index = sentIgnoringRange.push(0) - 1;
      const pump = () => {
        while (!res.destroyed) {
          const chunk = sent < file.length ? file.subarray(sent, sent + 65536) : Buffer.alloc(65536);
          sent += chunk.length;
          sentIgnoringRange[index] = sent;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
      };
      res.on("close", () => res.destroy());
      pump();
      return;
    }
    if (req.url === "/overlong-range.parquet") {
      // A 206 that sends more than the range asked for.
      if (req.method === "HEAD") return res.writeHead(200, { "content-length": file.length }).end();
      res.writeHead(206, { "content-range": `bytes 0-9/${file.length}` });
      return void res.end(file);
    }
    if (req.url?.startsWith("/api/")) {
      // A hub listing that never ends.
      res.writeHead(200, { "content-type": "application/json" });
      const spam = () => {
        while (!res.destroyed && res.write("[".repeat(65536)));
        if (!res.destroyed) res.once("drain", spam);
      };
      res.on("close", () => res.destroy());
      return void spam();
    }
    res.writeHead(404).end();
  });
  base = server.url;
});
afterAll(() => server.close());

async function rowsOf(url: string) {
  const out = [];
  for await (const r of fetchLaion({ sources: [{ location: url, kind: "url" }], retries: 0 }).rows)
    out.push(r);
  return out;
}

describe("every body has a cap", () => {
  test("a server that ignores Range and streams forever: each read stops at the range's end, and the rows are right", async () => {
    const rows = await rowsOf(`${base}/ignores-range.parquet`);
    const expected = await readAll(T1000, ["URL", "TEXT"]);
    expect(rows.map((r) => r.URL)).toEqual(expected.map((r) => r["URL"]));
    expect(sentIgnoringRange.length).toBeGreaterThan(0);
    // Each answer was aborted soon after the bytes needed (socket buffers let a few MiB more out).
    const size = fs.statSync(T1000).size;
    for (const sent of sentIgnoringRange) expect(sent).toBeLessThan(size + (32 << 20));
  });

  test("a 206 longer than the range asked for is refused, naming the URL", async () => {
    const fetch = createHttpFetch({ retries: 0 });
    await expect(
      fetch(`${base}/overlong-range.parquet`, { headers: { range: "bytes=0-9" } }),
    ).rejects.toThrow(`${base}/overlong-range.parquet: the server sent more than the 10 bytes asked for`);
  });

  test("a body without a range stops at maxBodyBytes", async () => {
    const fetch = createHttpFetch({ retries: 0, maxBodyBytes: 1 << 20 });
    await expect(fetch(`${base}/api/anything`)).rejects.toThrow(
      `${base}/api/anything: body larger than 1048576 bytes (maxBodyBytes)`,
    );
  });

  test("the hub listing has the same limits: an endless listing ends with a named error", async () => {
    await expect(resolveSources({ hubUrl: base, hfDataset: "a/b", timeoutMs: 2000 })).rejects.toThrow(
      /no complete response within 2 s \(raise --timeout\)|body larger than 268435456 bytes/,
    );
  });

  test("a hub that refuses connections is named, with what to check", async () => {
    const closed = await serve(() => {});
    const port = new URL(closed.url).port;
    await closed.close();
    await expect(resolveSources({ hubUrl: `http://127.0.0.1:${port}`, hfDataset: "a/b" })).rejects.toThrow(
      `listing dataset a/b on http://127.0.0.1:${port} failed (ECONNREFUSED): cannot reach the hub — check --hub-url`,
    );
  });
});
