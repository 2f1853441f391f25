import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  FAULT_KINDS,
  fixturePath,
  type ImageServer,
  REDIRECT_CHAIN_HOPS,
  startImageServer,
} from "../src/index.js";
import { rawRequest, socketBytes } from "./helpers.js";

const NAME = "416_264.jpg";
const ORIGINAL = fs.readFileSync(fixturePath("images/originals", NAME));
const PARQUET = fixturePath("laion/test_1000.parquet");
const PARQUET_SIZE = fs.statSync(PARQUET).size;

let server: ImageServer;
beforeAll(async () => {
  server = await startImageServer({ slowMs: 300, extraFiles: { "/extra.parquet": PARQUET } });
});
afterAll(() => server.close());

const at = (p: string) => `${server.url}${p}`;

describe("plain routes", () => {
  test("/images/<name> serves the file with its content type", async () => {
    const res = await fetch(at(`/images/${NAME}`));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/jpeg");
    expect(Buffer.from(await res.arrayBuffer()).equals(ORIGINAL)).toBe(true);
  });

  test("unknown image is 404, and paths cannot escape the root", async () => {
    expect((await rawRequest(at("/images/nope.jpg"))).status).toBe(404);
    const outside = await rawRequest(at("/images/..%2F..%2FREADME.md"));
    expect(outside.status).toBe(403);
  });

  test("a custom root is served", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "img-root-"));
    fs.writeFileSync(
      path.join(dir, "a.png"),
      await sharp({ create: { width: 3, height: 2, channels: 3, background: "red" } })
        .png()
        .toBuffer(),
    );
    const own = await startImageServer({ root: dir });
    try {
      const res = await fetch(`${own.url}/images/a.png`);
      expect(res.headers.get("content-type")).toBe("image/png");
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
      expect([meta.width, meta.height]).toEqual([3, 2]);
    } finally {
      await own.close();
      fs.rmSync(dir, { recursive: true });
    }
  });

  test("/files/ serves fixtures with Accept-Ranges and Content-Length, and HEAD has no body", async () => {
    const get = await rawRequest(at("/files/laion/test_1000.parquet"));
    expect(get.status).toBe(200);
    expect(get.headers["accept-ranges"]).toBe("bytes");
    expect(Number(get.headers["content-length"])).toBe(PARQUET_SIZE);
    expect(get.body.equals(fs.readFileSync(PARQUET))).toBe(true);
    const head = await rawRequest(at("/files/laion/test_1000.parquet"), { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(Number(head.headers["content-length"])).toBe(PARQUET_SIZE);
    expect(head.body.length).toBe(0);
  });

  test("/files/ answers byte ranges with 206 and Content-Range", async () => {
    const file = fs.readFileSync(PARQUET);
    const cases: [string, number, number][] = [
      ["bytes=0-3", 0, 3],
      ["bytes=100-199", 100, 199],
      ["bytes=-8", PARQUET_SIZE - 8, PARQUET_SIZE - 1],
      [`bytes=${PARQUET_SIZE - 5}-`, PARQUET_SIZE - 5, PARQUET_SIZE - 1],
      [`bytes=10-${PARQUET_SIZE + 100}`, 10, PARQUET_SIZE - 1],
    ];
    for (const [range, start, end] of cases) {
      const res = await rawRequest(at("/files/laion/test_1000.parquet"), { headers: { range } });
      expect(res.status, range).toBe(206);
      expect(res.headers["content-range"], range).toBe(`bytes ${start}-${end}/${PARQUET_SIZE}`);
      expect(res.body.equals(file.subarray(start, end + 1)), range).toBe(true);
    }
    const tail = await rawRequest(at("/files/laion/test_1000.parquet"), { headers: { range: "bytes=-4" } });
    expect(tail.body.toString()).toBe("PAR1");
  });

  test("/files/ refuses unsatisfiable ranges with 416", async () => {
    for (const range of [
      `bytes=${PARQUET_SIZE}-`,
      `bytes=${PARQUET_SIZE + 10}-${PARQUET_SIZE + 20}`,
      "bytes=20-10",
    ]) {
      const res = await rawRequest(at("/files/laion/test_1000.parquet"), { headers: { range } });
      expect(res.status, range).toBe(416);
      expect(res.headers["content-range"]).toBe(`bytes */${PARQUET_SIZE}`);
    }
  });

  test("extraFiles are served under /files/ with ranges", async () => {
    const res = await rawRequest(at("/files/extra.parquet"), { headers: { range: "bytes=0-3" } });
    expect(res.status).toBe(206);
    expect(res.body.toString()).toBe("PAR1");
  });

  test("/redirect-to/<encoded url> redirects to that exact URL", async () => {
    const target = "http://10.0.0.1:8080/images/a b.jpg?x=1&y=2";
    const res = await rawRequest(at(`/redirect-to/${encodeURIComponent(target)}`));
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(target);
  });

  test("requests are recorded with method, path, range and user agent", async () => {
    const own = await startImageServer();
    try {
      await rawRequest(`${own.url}/files/laion/test_1000.parquet?x=1`, {
        headers: { range: "bytes=0-1", "user-agent": "laion-test/1.0" },
      });
      await rawRequest(`${own.url}/images/${NAME}`, { method: "HEAD" });
      expect(own.requests).toEqual([
        {
          path: "/files/laion/test_1000.parquet?x=1",
          method: "GET",
          range: "bytes=0-1",
          userAgent: "laion-test/1.0",
        },
        { path: `/images/${NAME}`, method: "HEAD" },
      ]);
    } finally {
      await own.close();
    }
  });
});

describe("faults", () => {
  const fault = (kind: string, name = NAME) => at(`/fault/${kind}/${name}`);

  test("every kind in FAULT_KINDS is implemented", async () => {
    for (const kind of FAULT_KINDS) {
      const res = await rawRequest(fault(kind)).catch((err: Error) => ({
        status: -1,
        body: Buffer.from(String(err)),
      }));
      expect(res.body.toString("latin1"), kind).not.toContain("unknown fault kind");
    }
    const unknown = await rawRequest(fault("no-such-kind"));
    expect(unknown.status).toBe(400);
    expect(unknown.body.toString()).toContain("503-then-ok");
  });

  test("404 and 500", async () => {
    expect((await rawRequest(fault("404"))).status).toBe(404);
    expect((await rawRequest(fault("500"))).status).toBe(500);
  });

  test("503-then-ok fails the first request for a path, then serves the image", async () => {
    const url = fault("503-then-ok") + "?case=seq";
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await rawRequest(url)).status);
    expect(statuses).toEqual([503, 200, 200]);
    expect((await rawRequest(url)).body.equals(ORIGINAL)).toBe(true);
    // another query string starts a fresh sequence
    expect((await rawRequest(fault("503-then-ok") + "?case=other")).status).toBe(503);
  });

  test("429-then-ok sends Retry-After: 0 first, then the image", async () => {
    const url = fault("429-then-ok") + "?case=seq";
    const first = await rawRequest(url);
    expect(first.status).toBe(429);
    expect(first.headers["retry-after"]).toBe("0");
    const second = await rawRequest(url);
    expect(second.status).toBe(200);
    expect(second.body.equals(ORIGINAL)).toBe(true);
  });

  test("slow: a client with a short timeout gives up; a patient one gets the whole image", async () => {
    const slow = await startImageServer({ slowMs: 60_000 });
    try {
      const res = await fetch(`${slow.url}/fault/slow/${NAME}`, { signal: AbortSignal.timeout(300) });
      expect(res.status).toBe(200); // headers come at once
      await expect(res.arrayBuffer()).rejects.toThrow(/abort|timeout/i);
    } finally {
      await slow.close(); // must not wait for the 60 s trickle
    }
    const patient = await rawRequest(fault("slow") + "?ms=200");
    expect(patient.body.equals(ORIGINAL)).toBe(true);
  });

  test("truncated: Content-Length says the full size, half arrives, then the connection is cut", async () => {
    const res = await rawRequest(fault("truncated"));
    expect(Number(res.headers["content-length"])).toBe(ORIGINAL.length);
    expect(res.body.length).toBe(Math.floor(ORIGINAL.length / 2));
    expect(res.error).toBeDefined();
    await expect(fetch(fault("truncated")).then((r) => r.arrayBuffer())).rejects.toThrow();
  });

  test("redirect-chain: three redirects, then the image", async () => {
    let url = fault("redirect-chain");
    let hops = 0;
    for (;;) {
      const res = await rawRequest(url);
      if (res.status !== 302) {
        expect(res.status).toBe(200);
        expect(res.body.equals(ORIGINAL)).toBe(true);
        break;
      }
      hops++;
      url = new URL(res.headers.location!, url).href;
    }
    expect(hops).toBe(REDIRECT_CHAIN_HOPS);
    const followed = await fetch(fault("redirect-chain"));
    expect(followed.redirected).toBe(true);
    expect(Buffer.from(await followed.arrayBuffer()).equals(ORIGINAL)).toBe(true);
  });

  test("redirect-loop: never ends, so a client's redirect limit stops it", async () => {
    const seen = new Set<string>();
    let url = fault("redirect-loop");
    for (let i = 0; i < 4; i++) {
      const res = await rawRequest(url);
      expect(res.status).toBe(302);
      url = new URL(res.headers.location!, url).href;
      seen.add(url);
    }
    expect(seen.size).toBe(2); // A → B → A → B
    await expect(fetch(fault("redirect-loop"))).rejects.toThrow(); // undici: "redirect count exceeded"
  });

  test("wrong-content-type: 200 text/html with an HTML page that is no image", async () => {
    const res = await rawRequest(fault("wrong-content-type"));
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/html/);
    expect(res.body.toString()).toMatch(/^<!doctype html>/);
    await expect(sharp(res.body).metadata()).rejects.toThrow();
  });

  test("lying-content-length: declares 10 bytes but sends the whole file", async () => {
    const res = await fetch(fault("lying-content-length"));
    expect(res.headers.get("content-length")).toBe("10");
    expect((await res.arrayBuffer()).byteLength).toBe(10); // what a client that trusts the header gets
    // node:http (and got) instead fail with "Parse Error: Data after `Connection: close`"
    await expect(rawRequest(fault("lying-content-length"))).rejects.toThrow(/Parse Error/);
    const raw = await socketBytes(fault("lying-content-length"));
    expect(raw.body.equals(ORIGINAL)).toBe(true); // what was actually sent
  });

  test("lying-content-length-big: declares twice the size, sends the file, then ends", async () => {
    const res = await rawRequest(fault("lying-content-length-big"));
    expect(Number(res.headers["content-length"])).toBe(ORIGINAL.length * 2);
    expect(res.body.equals(ORIGINAL)).toBe(true);
    expect(res.error).toBeDefined();
    await expect(fetch(fault("lying-content-length-big")).then((r) => r.arrayBuffer())).rejects.toThrow();
  });

  test("noai, noimageai, noindex: the image with that X-Robots-Tag", async () => {
    for (const kind of ["noai", "noimageai", "noindex"]) {
      const res = await rawRequest(fault(kind));
      expect(res.status).toBe(200);
      expect(res.headers["x-robots-tag"]).toBe(kind);
      expect(res.body.equals(ORIGINAL)).toBe(true);
    }
  });

  test("huge: a small PNG whose header claims 30000×30000, refused by sharp's default pixel limit", async () => {
    const res = await rawRequest(fault("huge"));
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("image/png");
    expect(res.body.length).toBeLessThan(200_000);
    const meta = await sharp(res.body, { limitInputPixels: false }).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["png", 30_000, 30_000]);
    await expect(sharp(res.body).resize(256).toBuffer()).rejects.toThrow(/pixel limit/);
  });

  test("huge honours hugeDims", async () => {
    const own = await startImageServer({ hugeDims: 20_000 });
    try {
      const body = Buffer.from(await (await fetch(`${own.url}/fault/huge/x.png`)).arrayBuffer());
      const meta = await sharp(body, { limitInputPixels: false }).metadata();
      expect([meta.width, meta.height]).toEqual([20_000, 20_000]);
    } finally {
      await own.close();
    }
  });

  test("corrupt: a JPEG whose header reads but whose pixels do not decode", async () => {
    const res = await rawRequest(fault("corrupt"));
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("image/jpeg");
    expect(Number(res.headers["content-length"])).toBe(res.body.length);
    const meta = await sharp(res.body).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["jpeg", 416, 264]);
    await expect(sharp(res.body).resize(64).jpeg().toBuffer()).rejects.toThrow(/jpeg|corrupt|premature/i);
  });

  test("empty: 200 with a zero-length body", async () => {
    const res = await rawRequest(fault("empty"));
    expect(res.status).toBe(200);
    expect(res.headers["content-length"]).toBe("0");
    expect(res.body.length).toBe(0);
  });

  test("faults that need a file answer 404 for an unknown name", async () => {
    for (const kind of ["noai", "corrupt", "truncated", "slow", "503-then-ok"]) {
      const url = at(`/fault/${kind}/missing.jpg?k=${kind}`);
      const first = await rawRequest(url);
      const res = kind === "503-then-ok" ? await rawRequest(url) : first;
      expect(res.status, kind).toBe(404);
    }
  });
});
