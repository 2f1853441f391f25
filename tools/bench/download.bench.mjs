// Benchmark of @laion/shards' downloader (build first: `cd packages/shards && npx tsup`; run
// `node tools/bench/download.bench.mjs`; N= sets the number of images, default 1050; C= the concurrency,
// default the downloader's own default).
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
// Input images: real-size JPEGs (1024×768 and a few other sizes) made once from fixtures/images/originals
// into .bench/download-images/ (not committed): crops, flips and tints make every file different.
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parquetWriteFile } from "hyparquet-writer";
import sharp from "sharp";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const { downloadShards, defaultConcurrency } = await import(path.join(root, "packages/shards/dist/index.js"));

const N = Number(process.env.N ?? 1050);
const C = Number(process.env.C ?? defaultConcurrency());
const ROUNDS = Number(process.env.ROUNDS ?? 3);
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
    const body = files.get(decodeURIComponent(req.url.slice(1)));
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": "image/jpeg", "Content-Length": body.length });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
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
const server = await serve(files);
const base = `http://127.0.0.1:${server.address().port}`;
const input = path.join(benchDir, "download-input.parquet");
parquetWriteFile({
  filename: input,
  columnData: [
    { name: "URL", data: names.map((n) => `${base}/${n}`), type: "STRING" },
    { name: "TEXT", data: names.map((n, i) => `caption ${i} for ${n}`), type: "STRING" },
  ],
});
const out = path.join(benchDir, "download-out");
const cores = os.availableParallelism();
console.log(
  `node ${process.version}, ${cores} cores (${os.cpus()[0]?.model ?? "?"}), load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(
      " ",
    )}, concurrency ${C}, ${mb.toFixed(1)} MB of JPEG, libvips threads ${sharp.concurrency()}, UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? 4}`,
);

// warm-up: sharp's first calls and the server's sockets
await bareSharp(buffers.slice(0, 50), C);

/** `fn`'s result and the CPU-seconds (user + system, all threads of this process) it took. */
async function withCpu(fn) {
  const before = process.cpuUsage();
  const result = await fn();
  const used = process.cpuUsage(before);
  return { ...result, cpu: (used.user + used.system) / 1e6 };
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
  });
  console.log(
    `round ${r + 1}: bare sharp ${bareRate.toFixed(1)} img/s (${(N / bare.cpu).toFixed(1)} per CPU-s), plain http+sharp ${floorRate.toFixed(1)} img/s, end to end ${e2eRate.toFixed(1)} img/s (${(N / e2e.cpu).toFixed(1)} per CPU-s; ${(e2eRate / cores).toFixed(1)} img/s/core), ratio to bare sharp ${(e2eRate / bareRate).toFixed(2)} (per CPU-s ${cpuRatio.toFixed(2)}), to plain http+sharp ${(e2eRate / floorRate).toFixed(2)}`,
  );
}
server.close();
server.closeAllConnections();
const sorted = [...rows].sort((a, b) => a.ratio - b.ratio);
const median = sorted[Math.floor(sorted.length / 2)];
const best = Math.max(...rows.map((r) => r.e2eRate));
console.log(
  JSON.stringify({
    images: N,
    concurrency: C,
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
    ratio_to_plain_http_sharp_median: Number(
      [...rows]
        .sort((a, b) => a.floorRatio - b.floorRatio)
        [Math.floor(rows.length / 2)].floorRatio.toFixed(3),
    ),
  }),
);
