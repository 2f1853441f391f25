import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fixturePath, startImageServer } from "@laion/test-servers";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";
import sharp from "sharp";
import { afterAll, describe, expect, test } from "vitest";
import { prepareDemoImages, writeDemoParquet } from "../src/demo-inputs.js";
import { startStableForwarder } from "../src/stable-port.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "trainer-demo-inputs-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const sources = [fixturePath("images/originals"), fixturePath("explicit_media/photos")];

describe("prepareDemoImages", () => {
  test("copies the fixture photos and adds seeded variants, the same on every run", async () => {
    const a = await prepareDemoImages({ sources, outDir: path.join(tmp, "a"), variants: 6, seed: 7 });
    const b = await prepareDemoImages({ sources, outDir: path.join(tmp, "b"), variants: 6, seed: 7 });
    const nOriginals = sources.flatMap((d) => fs.readdirSync(d).filter((f) => f.endsWith(".jpg"))).length;
    expect(a).toHaveLength(nOriginals + 6);
    expect(a).toEqual(b);
    const variant = a.find((f) => f.startsWith("variant_"))!;
    const bytesA = fs.readFileSync(path.join(tmp, "a", variant));
    expect(bytesA.equals(fs.readFileSync(path.join(tmp, "b", variant)))).toBe(true);
    const meta = await sharp(bytesA).metadata();
    expect(meta.format).toBe("jpeg");
    // a different seed gives different variants
    const c = await prepareDemoImages({ sources, outDir: path.join(tmp, "c"), variants: 6, seed: 8 });
    expect(fs.readFileSync(path.join(tmp, "c", variant)).equals(bytesA)).toBe(false);
    expect(c).toEqual(a);
  });
});

describe("writeDemoParquet", () => {
  test("keeps real LAION captions and points the URLs at the local image server, ~5 % at faults", async () => {
    const source = fixturePath("laion/test_10000.parquet");
    const out = path.join(tmp, "demo.parquet");
    const images = ["123_456.jpg", "208_495.jpg", "321_421.jpg"];
    const rows = await writeDemoParquet({
      source,
      out,
      imageBaseUrl: "http://127.0.0.1:5555",
      images,
      rows: 200,
      faultFraction: 0.05,
      seed: 1,
    });
    const written = (await parquetReadObjects({ file: await asyncBufferFromFile(out) })) as {
      URL: string;
      TEXT: string;
    }[];
    expect(written).toEqual(rows);
    expect(written).toHaveLength(200);
    // every caption is a real caption from the fixture, in source order
    const original = (await parquetReadObjects({
      file: await asyncBufferFromFile(source),
      columns: ["TEXT"],
    })) as { TEXT: string }[];
    const positions = written.map((r) => original.findIndex((o) => o.TEXT === r.TEXT));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    const faults = written.filter((r) => r.URL.includes("/fault/"));
    expect(faults).toHaveLength(10);
    expect(new Set(faults.map((r) => r.URL.split("/")[4])).size).toBeGreaterThan(5);
    expect(written.every((r) => r.URL.startsWith("http://127.0.0.1:5555/"))).toBe(true);
  });
});

describe("startStableForwarder", () => {
  test("serves the image server's bytes on a port that survives a restart", async () => {
    const server = await startImageServer({});
    const stateFile = path.join(tmp, "ports.json");
    const first = await startStableForwarder({ target: server.url, stateFile });
    const direct = Buffer.from(await (await fetch(`${server.url}/images/123_456.jpg`)).arrayBuffer());
    const viaForwarder = Buffer.from(await (await fetch(`${first.url}/images/123_456.jpg`)).arrayBuffer());
    expect(viaForwarder.equals(direct)).toBe(true);
    await first.close();
    await server.close();
    // a new image server on a new port, the same forwarder port
    const server2 = await startImageServer({});
    const second = await startStableForwarder({ target: server2.url, stateFile });
    expect(second.port).toBe(first.port);
    expect((await fetch(`${second.url}/fault/404/x.jpg`)).status).toBe(404);
    await second.close();
    await server2.close();
  });
});
