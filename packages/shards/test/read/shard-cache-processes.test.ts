import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { type Listening, serve } from "@laion/test-servers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { WebDataset } from "../../src/index.js";
import { bundleForChild } from "../child-bundle.js";
import { collect, shard, tempDir } from "./helpers.js";

// Two reader processes on one cacheDir, against a local server that trickles each shard over
// TRICKLE_MS, so both processes ask for the same shard while its download is still running.
const NAMES = ["tendata.tar", "mpdata.tar", "sample.tgz"];
const TRICKLE_MS = 400;
const tmp = tempDir("shard-cache-procs-");
let server: Listening;
let base: string;
const gets = new Map<string, number>();
let runner: string;

beforeAll(async () => {
  server = await serve((req, res) => {
    const name = path.basename(req.url ?? "");
    if (!NAMES.includes(name)) return void res.writeHead(404).end();
    gets.set(name, (gets.get(name) ?? 0) + 1);
    const body = fs.readFileSync(shard(name));
    res.writeHead(200, { "Content-Length": body.length });
    const half = Math.ceil(body.length / 2);
    res.write(body.subarray(0, half));
    setTimeout(() => res.end(body.subarray(half)), TRICKLE_MS);
  });
  base = server.url;
  // A child reads every shard for `epochs` epochs (seeded shard order) and prints each epoch's keys.
  runner = await bundleForChild({
    name: "shard-cache-processes",
    entry: "src/index.ts",
    runner: `import { once } from "node:events";
import { WebDataset } from "./bundle.mjs";
const { urls, cacheDir, cacheLimitBytes, seed, epochs } = JSON.parse(process.argv[2]);
// start together: loading the bundle takes seconds under load, the first downloads a few ms
process.stdout.write("ready\\n");
await once(process.stdin, "data");
const out = [];
for (let epoch = 0; epoch < epochs; epoch++) {
  const keys = [];
  for await (const s of WebDataset(urls, { cacheDir, cacheLimitBytes, shuffleShards: true, seed, epoch })) keys.push(s.__key__);
  out.push(keys.sort());
}
process.stdout.write(JSON.stringify(out) + "\\n");
process.exit(0);
`,
  });
});
afterAll(async () => {
  await server.close();
  tmp.cleanup();
});

const urls = () => NAMES.map((n) => `${base}/${n}`);
/** Runs two reader processes, released at the same moment; returns each one's keys per epoch. */
async function twoReaders(params: { cacheDir: string; cacheLimitBytes?: number; epochs: number }) {
  // the same seed: the same shard order, so both ask for each shard at about the same moment
  const children = [1, 1].map((seed) =>
    spawn(process.execPath, [runner, JSON.stringify({ urls: urls(), seed, ...params })], {
      stdio: ["pipe", "pipe", "inherit"],
    }),
  );
  const lines = children.map((c) => readline.createInterface({ input: c.stdout! })[Symbol.asyncIterator]());
  for (const l of lines) expect((await l.next()).value).toBe("ready");
  for (const c of children) c.stdin!.write("go\n");
  return Promise.all(lines.map(async (l) => JSON.parse((await l.next()).value) as string[][]));
}
const sizeOf = (file: string) => fs.statSync(file).size;

describe("one cacheDir shared by two processes", () => {
  let expected: string[];
  beforeAll(async () => {
    const local = await collect(WebDataset(NAMES.map((n) => shard(n))));
    expected = local.map((s) => s.__key__).sort();
  });

  test("each shard is downloaded once; both read every sample; the cached files are the remote bytes", async () => {
    const cacheDir = path.join(tmp.dir, "shared");
    gets.clear();
    const [a, b] = await twoReaders({ cacheDir, epochs: 2 });
    for (const epoch of [...a!, ...b!]) expect(epoch).toEqual(expected);
    expect(NAMES.map((n) => gets.get(n))).toEqual([1, 1, 1]);
    // nothing torn or left behind: three whole files, no temp file, no lock
    const files = fs.readdirSync(cacheDir);
    expect(files).toHaveLength(3);
    const cached = files
      .map((f) => fs.readFileSync(path.join(cacheDir, f)))
      .sort((x, y) => x.length - y.length);
    const remote = NAMES.map((n) => fs.readFileSync(shard(n))).sort((x, y) => x.length - y.length);
    expect(cached.map((c, i) => c.equals(remote[i]!))).toEqual([true, true, true]);
  });

  test("with cacheLimitBytes both evict under the limit and still read every shard whole", async () => {
    const cacheDir = path.join(tmp.dir, "limited");
    const sizes = NAMES.map((n) => sizeOf(shard(n))).sort((x, y) => y - x);
    // room for the two largest shards, not for all three: every epoch evicts
    const limit = sizes[0]! + sizes[1]!;
    gets.clear();
    const [a, b] = await twoReaders({ cacheDir, cacheLimitBytes: limit, epochs: 3 });
    for (const epoch of [...a!, ...b!]) expect(epoch).toEqual(expected);
    const files = fs.readdirSync(cacheDir);
    expect(files.every((f) => !f.includes(".tmp-") && !f.endsWith(".lock"))).toBe(true);
    expect(files.length).toBeLessThanOrEqual(2);
    expect(files.reduce((sum, f) => sum + sizeOf(path.join(cacheDir, f)), 0)).toBeLessThanOrEqual(limit);
    // evicted shards were fetched again (3 shards, 2 readers × 3 epochs, room for 2)
    const total = NAMES.reduce((sum, n) => sum + (gets.get(n) ?? 0), 0);
    expect(total).toBeGreaterThan(3);
  });
});
