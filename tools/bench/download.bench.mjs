// Benchmark of @laion/shards' downloader (build first: `cd packages/shards && npx tsup`; run
// `node tools/bench/download.bench.mjs`; N= sets the number of images, default 1050; C= the concurrency,
// default the downloader's own default; RUNTIME=download sets DOWNLOAD_RUNTIME's V8 flags after the
// warm-up, as the trainer app's download stage does — the A/B for the app: full GCs per round with and
// without it, in the printed `end_to_end_full_gcs_per_round`).
//
// End to end: downloadShards() over a parquet of N URLs served by a local HTTP server (keep-alive, files
// held in memory), 256 center_crop, JPEG q95, written to webdataset tars — against the baseline of bare
// sharp decode + resize + encode of the same bytes (already in memory) at the same concurrency, in the
// same process. Ratio = end-to-end images/s ÷ bare images/s (goal ≥ 0.8). A second baseline, plain
// node:http GET + the same sharp work, shows what any downloader pays for HTTP on the same cores (the
// server runs in this process too). Rounds alternate; ratios reported are medians of per-round ratios.
//
// Each run's CPU-seconds (process.cpuUsage: every thread, libvips' and the in-process server's too) are
// also counted: on a shared machine the ratio of images per CPU-second (end to end ÷ bare sharp) says how
// much work per image we add, even when the wall-clock rates move with the load.
//
// The server runs in this process by default, as in every recorded figure, so its CPU (~0.5 ms per image)
// is counted against the downloader and the plain-http baseline though bare sharp and a real download do
// not pay it. SERVER=child runs it in a child process instead: its CPU is then outside this process's
// count, though on a 2-core machine it still takes cores from libvips (wall clock).
//
// Both sides are warmed up the same way before the rounds: bare sharp on 50 images, the downloader on a
// 50-URL input (its modules, sockets and JIT, which otherwise fall on round 1 only).
//
// Input images: real-size JPEGs (1024×768 and a few other sizes) made once from fixtures/images/originals
// into .bench/download-images/ (not committed): crops, flips and tints make every file different.
import { fork } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { constants, PerformanceObserver } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parquetWriteFile } from "hyparquet-writer";
import sharp from "sharp";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const { downloadShards, defaultConcurrency, DOWNLOAD_RUNTIME } = await import(
  path.join(root, "packages/shards/dist/index.js")
);
const { setV8Flags } = await import(path.join(root, "packages/cli-kit/dist/index.js"));

const N = Number(process.env.N ?? 1050);
const C = Number(process.env.C ?? defaultConcurrency());
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SERVER = process.env.SERVER ?? "in-process";
// RUNTIME=download: set DOWNLOAD_RUNTIME's V8 flags after the warm-up, while this process runs, as the
// trainer app does for its download stage (the bin sets them at start-up instead)
const RUNTIME = process.env.RUNTIME ?? "";
// SLOW=k: every k-th URL answers after SLOW_MS ms (default 3000), as a slow or dying server does — what a
// shard written in key order costs when its head waits (download-run.ts's reorder bounds); 0: none
const SLOW = Number(process.env.SLOW ?? 0);
const SLOW_MS = Number(process.env.SLOW_MS ?? 3000);
if (RUNTIME !== "" && RUNTIME !== "download")
  throw new Error(`RUNTIME must be download or unset, got ${JSON.stringify(RUNTIME)}`);
if (SERVER !== "in-process" && SERVER !== "child")
  throw new Error(`SERVER must be in-process or child, got ${JSON.stringify(SERVER)}`);
const benchDir = path.join(root, ".bench");
const imageDir = path.join(benchDir, "download-images");
const SIZES = [
  [1024, 768],
  [768, 1024],
  [1280, 720],
  [1024, 1024],
];

async function makeImages() {
  fs.mkdirSync(imageDir, { recursive: true });
  const originals = fs
    .readdirSync(path.join(root, "fixtures/images/originals"))
    .filter((f) => /^\d+_\d+\.jpg$/.test(f))
    .sort();
  const names = [];
  for (let i = 0; i < N; i++) {
    const name = `img-${String(i).padStart(5, "0")}.jpg`;
    names.push(name);
    const file = path.join(imageDir, name);
    if (fs.existsSync(file)) continue;
    const src = path.join(root, "fixtures/images/originals", originals[i % originals.length]);
    const [w, h] = i % 5 === 0 ? SIZES[(i / 5) % SIZES.length] : SIZES[0];
    let img = sharp(src).resize(w, h, {
      fit: "cover",
      position: ["centre", "north", "south", "east", "west"][i % 5],
    });
    if (i % 2) img = img.flop();
    img = img.modulate({ hue: (i * 37) % 360, brightness: 0.9 + (i % 7) * 0.03 });
    await img.jpeg({ quality: 90 }).toFile(file);
  }
  return names;
}

function serve(files) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://bench");
    const body = files.get(decodeURIComponent(url.pathname.slice(1)));
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    const answer = () => {
      res.writeHead(200, { "Content-Type": "image/jpeg", "Content-Length": body.length });
      res.end(body);
    };
    const slow = Number(url.searchParams.get("slow") ?? 0);
    if (slow > 0) setTimeout(answer, slow);
    else answer();
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

/** The same server in a child process (`SERVER=child`): resolves with its port and a function that stops it. */
async function serveInChild(names) {
  const child = fork(fileURLToPath(import.meta.url), ["--serve", imageDir, ...names], { stdio: "inherit" });
  const port = await new Promise((resolve, reject) => {
    child.once("message", resolve);
    child.once("exit", (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  return { port, close: () => child.kill() };
}

if (process.argv[2] === "--serve") {
  const [dir, ...files] = process.argv.slice(3);
  const server = await serve(new Map(files.map((n) => [n, fs.readFileSync(path.join(dir, n))])));
  process.send(server.address().port);
  await new Promise(() => {}); // until the parent kills it
}

async function bareSharp(buffers, concurrency) {
  let next = 0;
  let bytes = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < buffers.length) {
        const buf = buffers[next++];
        const out = await sharp(buf).resize(256, 256, { fit: "cover" }).jpeg({ quality: 95 }).toBuffer();
        bytes += out.length;
      }
    }),
  );
  return { seconds: (performance.now() - t0) / 1000, bytes };
}

/** The least any downloader must do here: plain node:http GET (keep-alive) + the same sharp work. */
async function floor(base, names, concurrency) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const get = (url) =>
    new Promise((resolve, reject) => {
      http
        .get(url, { agent }, (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => resolve(Buffer.concat(chunks)));
          res.on("error", reject);
        })
        .on("error", reject);
    });
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < names.length) {
        const buf = await get(`${base}/${names[next++]}`);
        await sharp(buf).resize(256, 256, { fit: "cover" }).jpeg({ quality: 95 }).toBuffer();
      }
    }),
  );
  agent.destroy();
  return { seconds: (performance.now() - t0) / 1000 };
}

async function endToEnd(input, out, concurrency) {
  fs.rmSync(out, { recursive: true, force: true });
  const t0 = performance.now();
  const stats = await downloadShards({
    input,
    output: out,
    shardSize: 1000,
    imageSize: 256,
    resizeMode: "center_crop",
    encodeFormat: "jpg",
    encodeQuality: 95,
    concurrency,
    allowPrivateAddresses: true,
    retries: 0,
  });
  const seconds = (performance.now() - t0) / 1000;
  if (stats.successes !== stats.count)
    throw new Error(`end-to-end run had failures: ${JSON.stringify(stats.status_dict)}`);
  return { seconds, stats };
}

const t = performance.now();
const names = await makeImages();
console.log(`images: ${N} in ${imageDir} (${((performance.now() - t) / 1000).toFixed(1)}s to make/check)`);
const buffers = names.map((n) => fs.readFileSync(path.join(imageDir, n)));
const files = new Map(names.map((n, i) => [n, buffers[i]]));
const mb = buffers.reduce((a, b) => a + b.length, 0) / 1e6;
const server = SERVER === "child" ? await serveInChild(names) : await serve(files);
const base = `http://127.0.0.1:${SERVER === "child" ? server.port : server.address().port}`;
function writeInput(file, inputNames) {
  parquetWriteFile({
    filename: file,
    columnData: [
      {
        name: "URL",
        data: inputNames.map((n, i) => `${base}/${n}${SLOW > 0 && i % SLOW === 0 ? `?slow=${SLOW_MS}` : ""}`),
        type: "STRING",
      },
      { name: "TEXT", data: inputNames.map((n, i) => `caption ${i} for ${n}`), type: "STRING" },
    ],
  });
  return file;
}
const input = writeInput(path.join(benchDir, "download-input.parquet"), names);
const warmupInput = writeInput(path.join(benchDir, "download-warmup.parquet"), names.slice(0, 50));
const out = path.join(benchDir, "download-out");
const cores = os.availableParallelism();
console.log(
  `node ${process.version}, ${cores} cores (${os.cpus()[0]?.model ?? "?"}), load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(
      " ",
    )}, concurrency ${C}, server ${SERVER}, ${mb.toFixed(1)} MB of JPEG, libvips threads ${sharp.concurrency()}, UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? 4}`,
);

// warm-up, both sides alike: sharp's first calls; the downloader's modules, sockets and JIT
await bareSharp(buffers.slice(0, 50), C);
await endToEnd(warmupInput, out, C);
if (RUNTIME === "download") setV8Flags(DOWNLOAD_RUNTIME.v8Flags);

// Main-thread GC pauses of each run: the downloader's process runs a full Mark-Compact every ~60–100
// images in some rounds and none in others (V8 sizing its heap; external memory of in-flight bodies
// counts against the old generation), which moves a round's ratio by up to ~0.1.
const gc = { ms: 0, major: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gc.ms += entry.duration;
    if (entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.major++;
  }
}).observe({ entryTypes: ["gc"] });

/** `fn`'s result, the CPU-seconds (user + system, all threads of this process) it took and its GC pauses. */
async function withCpu(fn) {
  const before = process.cpuUsage();
  const gcBefore = { ...gc };
  const result = await fn();
  const used = process.cpuUsage(before);
  return {
    ...result,
    cpu: (used.user + used.system) / 1e6,
    gcMs: gc.ms - gcBefore.ms,
    gcMajor: gc.major - gcBefore.major,
  };
}

const rows = [];
for (let r = 0; r < ROUNDS; r++) {
  const bare = await withCpu(() => bareSharp(buffers, C));
  const e2e = await withCpu(() => endToEnd(input, out, C));
  const fl = await floor(base, names, C);
  const bareRate = N / bare.seconds;
  const e2eRate = N / e2e.seconds;
  const floorRate = N / fl.seconds;
  // images per CPU-second, end to end ÷ bare sharp
  const cpuRatio = bare.cpu / e2e.cpu;
  rows.push({
    bareRate,
    e2eRate,
    floorRate,
    ratio: e2eRate / bareRate,
    floorRatio: e2eRate / floorRate,
    cpuRatio,
    fullGcs: e2e.gcMajor,
  });
  console.log(
    `round ${r + 1}: bare sharp ${bareRate.toFixed(1)} img/s (${(N / bare.cpu).toFixed(1)} per CPU-s), plain http+sharp ${floorRate.toFixed(1)} img/s, end to end ${e2eRate.toFixed(1)} img/s (${(N / e2e.cpu).toFixed(1)} per CPU-s; ${(e2eRate / cores).toFixed(1)} img/s/core), ratio to bare sharp ${(e2eRate / bareRate).toFixed(2)} (per CPU-s ${cpuRatio.toFixed(2)}), to plain http+sharp ${(e2eRate / floorRate).toFixed(2)}; GC pauses bare ${bare.gcMs.toFixed(0)} ms (${bare.gcMajor} major), end to end ${e2e.gcMs.toFixed(0)} ms (${e2e.gcMajor} major)`,
  );
}
if (SERVER === "child") server.close();
else {
  server.close();
  server.closeAllConnections();
}
const sorted = [...rows].sort((a, b) => a.ratio - b.ratio);
const median = sorted[Math.floor(sorted.length / 2)];
const best = Math.max(...rows.map((r) => r.e2eRate));
console.log(
  JSON.stringify({
    images: N,
    concurrency: C,
    server: SERVER,
    runtime_v8_flags:
      RUNTIME === "download" ? DOWNLOAD_RUNTIME.v8Flags.map((f) => `--${f.name}=${f.value}`) : [],
    load_1min_end: Number(os.loadavg()[0].toFixed(1)),
    cores,
    bare_sharp_img_s_best: Number(Math.max(...rows.map((r) => r.bareRate)).toFixed(1)),
    end_to_end_img_s_best: Number(best.toFixed(1)),
    end_to_end_img_s_per_core_best: Number((best / cores).toFixed(1)),
    ratio_median: Number(median.ratio.toFixed(3)),
    ratio_min: Number(sorted[0].ratio.toFixed(3)),
    ratio_max: Number(sorted.at(-1).ratio.toFixed(3)),
    ratio_per_cpu_second_median: Number(
      [...rows].sort((a, b) => a.cpuRatio - b.cpuRatio)[Math.floor(rows.length / 2)].cpuRatio.toFixed(3),
    ),
    // rounds with full GCs are the slow ones (docs/benchmarks.md, session 7): printed so a median can be read against them
    end_to_end_full_gcs_per_round: rows.map((r) => r.fullGcs),
    ratio_to_plain_http_sharp_median: Number(
      [...rows]
        .sort((a, b) => a.floorRatio - b.floorRatio)
        [Math.floor(rows.length / 2)].floorRatio.toFixed(3),
    ),
  }),
);
