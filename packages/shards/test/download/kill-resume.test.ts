import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { type ImageServer, type Listening, serve, startImageServer } from "@laion/test-servers";
import { afterAll, beforeAll, expect, test } from "vitest";
import { downloadShards } from "../../src/download/index.js";
import { bundleForChild } from "../child-bundle.js";
import {
  listDir,
  ORIGINAL_NAMES,
  ORIGINALS,
  readParquetRows,
  readTar,
  realCaptions,
  tempDir,
  writeParquet,
} from "./helpers.js";

let server: ImageServer;
// Holds its one image's response open until `holding` is cleared: the first run cannot finish before it
// is killed, however slowly the kill arrives; the runs after it get the image at once.
let held: Listening;
let holding = true;
let work: string;
let input: string;
let runner: string;
const SHARD_SIZE = 10;
const ROWS = 40;

beforeAll(async () => {
  server = await startImageServer();
  const image = fs.readFileSync(path.join(ORIGINALS, "389_535.jpg"));
  held = await serve((_req, res) => {
    if (!holding) res.writeHead(200, { "Content-Type": "image/jpeg" }).end(image);
  });
  work = tempDir("kill");
  const captions = await realCaptions(ROWS);
  const urls = captions.map((_, i) =>
    // one held URL in the last shard
    i === 35
      ? `${held.url}/389_535.jpg`
      : i % 9 === 4
        ? `${server.url}/fault/404/x.jpg`
        : `${server.url}/images/${ORIGINAL_NAMES[i % ORIGINAL_NAMES.length]}`,
  );
  input = writeParquet(path.join(work, "in.parquet"), {
    URL: { data: urls, type: "STRING" },
    TEXT: { data: captions.map((c) => c.caption), type: "STRING" },
  });
  // The child runs the library from source, bundled (tests run TypeScript; plain node cannot).
  runner = await bundleForChild({
    name: "download-kill-test",
    entry: "src/download/index.ts",
    runner: `import { downloadShards } from "./bundle.mjs";
const params = JSON.parse(process.argv[2]);
await downloadShards({ ...params, onProgress: (p) => process.stdout.write(JSON.stringify(p) + "\\n") });
process.stdout.write("finished\\n");
`,
  });
});

afterAll(async () => {
  await server?.close();
  await held?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

const params = (output: string) => ({
  input,
  output,
  shardSize: SHARD_SIZE,
  concurrency: 3,
  // a local image that took longer than a short deadline on a loaded machine (1000 ms did, under CI load)
  // was a timeout in one run and a success in the other, and the two outputs differed
  timeoutMs: 10_000,
  retries: 0,
  allowPrivateAddresses: true,
});

/** Member names of every tar, and the parquet rows, of an output folder. */
async function contents(dir: string) {
  const tars = listDir(dir).filter((f) => f.endsWith(".tar"));
  const members: string[] = [];
  for (const t of tars) members.push(...(await readTar(path.join(dir, t))).map((m) => m.name));
  const rows = [];
  for (const p of listDir(dir).filter((f) => f.endsWith(".parquet")))
    rows.push(...(await readParquetRows(path.join(dir, p))));
  return { tars, members, rows: rows.map((r) => `${r.key} ${r.status} ${r.error_message}`) };
}

test("kill -9 mid-run, then the same command again: same keys as an uninterrupted run, none twice, none missing", async () => {
  const out = path.join(work, "killed");
  const child: ChildProcess = spawn(process.execPath, [runner, JSON.stringify(params(out))], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on("exit", (_code, signal) => resolve(signal)),
  );
  let finished = false;
  for await (const line of readline.createInterface({ input: child.stdout! })) {
    if (line === "finished") finished = true;
    else if (JSON.parse(line).done >= 23 && JSON.parse(line).shards_written >= 2) {
      child.kill("SIGKILL");
      break;
    }
  }
  expect(await exited).toBe("SIGKILL");
  expect(finished).toBe(false);
  const left = listDir(out);
  expect(left).not.toContain("stats.json");
  expect(left.filter((f) => f.endsWith("_stats.json")).length).toBeGreaterThanOrEqual(2); // shards 0 and 1 at least
  expect(left.some((f) => /\.tar\.tmp-\d+$/.test(f))).toBe(true); // the shard being written when killed
  holding = false;

  const resumed = await downloadShards(params(out));
  expect(resumed.shards_skipped).toBeGreaterThanOrEqual(2);
  expect(resumed.shards_skipped + resumed.shards_written).toBe(ROWS / SHARD_SIZE);
  expect(listDir(out).some((f) => f.includes(".tmp-"))).toBe(false);

  const reference = path.join(work, "reference");
  const straight = await downloadShards(params(reference));
  const a = await contents(out);
  const b = await contents(reference);
  expect(a.tars).toEqual(b.tars);
  expect([...a.members].sort()).toEqual([...b.members].sort());
  expect(new Set(a.members).size).toBe(a.members.length);
  expect(a.rows.sort()).toEqual(b.rows.sort());
  expect(a.rows.length).toBe(ROWS);
  const { duration, start_time, end_time, shards_written, shards_skipped, output, ...totals } = resumed;
  expect(totals).toEqual({
    count: straight.count,
    successes: straight.successes,
    failed_to_download: straight.failed_to_download,
    failed_to_resize: straight.failed_to_resize,
    status_dict: straight.status_dict,
    worker_index: 0,
    worker_count: 1,
  });
});
