// The image fetcher on node:http, against a small local server: what got used to do for us (decoding,
// redirect rules, one deadline, connection reuse) is now ours, so it is checked here.
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import zlib from "node:zlib";
import { fixturePath } from "@laion/test-servers";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createImageFetcher } from "../../src/download/index.js";

const image = fs.readFileSync(fixturePath("images/originals/123_456.jpg"));
// larger than a socket read (64 KiB), written in uneven pieces: the body arrives in several chunks
const big = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251));
const pieces = [0, 1, 70_000, 70_001, 200_000, big.length];
let server: http.Server;
let base: string;
const sockets = new Set<unknown>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const hop = Number(url.searchParams.get("hop") ?? 0);
    switch (url.pathname) {
      case "/deflate":
        res.writeHead(200, { "Content-Type": "image/jpeg", "Content-Encoding": "deflate" });
        return void res.end(zlib.deflateSync(image));
      case "/br":
        res.writeHead(200, { "Content-Type": "image/jpeg", "Content-Encoding": "br" });
        return void res.end(zlib.brotliCompressSync(image));
      case "/big":
      case "/big-chunked": {
        const length = url.pathname === "/big" ? { "Content-Length": big.length } : {};
        res.writeHead(200, { "Content-Type": "image/jpeg", ...length });
        for (let i = 1; i < pieces.length; i++) res.write(big.subarray(pieces[i - 1], pieces[i]));
        return void res.end();
      }
      case "/to-ftp":
        res.writeHead(302, { Location: "ftp://127.0.0.1/x.jpg", "Content-Length": "0" });
        return void res.end();
      case "/no-location":
        res.writeHead(302, { "Content-Length": "0" });
        return void res.end();
      case "/slow-chain":
        // each hop answers after 300 ms: four hops pass a 1000 ms deadline although no hop does
        setTimeout(() => {
          res.writeHead(302, { Location: `/slow-chain?hop=${hop + 1}`, "Content-Length": "0" });
          res.end();
        }, 300);
        return;
      case "/chain":
        if (hop < 3) {
          res.writeHead(302, { Location: `/chain?hop=${hop + 1}`, "Content-Length": "3" });
          return void res.end("moo"); // a redirect with a body: drained, the socket reused
        }
        res.writeHead(200, { "Content-Type": "image/jpeg", "Content-Length": image.length });
        return void res.end(image);
      default:
        res.writeHead(404, { "Content-Length": "0" });
        res.end();
    }
  });
  server.on("connection", (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

test("deflate and brotli bodies are decoded to the image's bytes", async () => {
  const fetcher = createImageFetcher({ allowPrivateAddresses: true, retries: 0 });
  try {
    for (const path of ["/deflate", "/br"]) {
      const result = await fetcher.fetch(`${base}${path}`);
      expect(result.ok && Buffer.compare(result.bytes, image), path).toBe(0);
    }
  } finally {
    fetcher.close();
  }
});

test("a body of several chunks arrives byte for byte, with a Content-Length (one buffer) and without", async () => {
  const fetcher = createImageFetcher({ allowPrivateAddresses: true, retries: 0 });
  try {
    for (const path of ["/big", "/big-chunked"]) {
      const result = await fetcher.fetch(`${base}${path}`);
      expect(result.ok && result.bytes.length, path).toBe(big.length);
      expect(result.ok && Buffer.compare(result.bytes, big), path).toBe(0);
    }
  } finally {
    fetcher.close();
  }
});

test("a redirect to another scheme and a redirect without Location fail with a reason", async () => {
  const fetcher = createImageFetcher({ allowPrivateAddresses: true, retries: 0 });
  try {
    expect(await fetcher.fetch(`${base}/to-ftp`)).toEqual({
      ok: false,
      error: "unsupported URL scheme in redirect",
    });
    expect(await fetcher.fetch(`${base}/no-location`)).toEqual({ ok: false, error: "HTTP 302" });
  } finally {
    fetcher.close();
  }
});

test("the timeout is one deadline for the whole redirect chain", async () => {
  const fetcher = createImageFetcher({ allowPrivateAddresses: true, retries: 0, timeoutMs: 1000 });
  try {
    const t0 = performance.now();
    expect(await fetcher.fetch(`${base}/slow-chain`)).toEqual({ ok: false, error: "timeout after 1000 ms" });
    expect(performance.now() - t0).toBeLessThan(2500);
  } finally {
    fetcher.close();
  }
});

test("keep-alive: forty requests (ten fetches through a redirect chain) share two connections", async () => {
  const before = sockets.size;
  const fetcher = createImageFetcher({ allowPrivateAddresses: true, retries: 0 });
  try {
    for (let i = 0; i < 10; i++) {
      const result = await fetcher.fetch(`${base}/chain`);
      expect(result.ok && result.bytes.length).toBe(image.length);
    }
    // a redirect's next hop starts while the drained socket is still on its way back to the pool: two
    expect(sockets.size - before).toBeLessThanOrEqual(2);
  } finally {
    fetcher.close();
  }
});
