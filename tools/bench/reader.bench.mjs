// Benchmark of the @laion/shards webdataset reader.
// 1. Throughput: samples/s and GB/s reading ≥ 1 GB of generated shards from the page cache,
//    as a ratio to a raw sequential read of the same files (same 1 MiB read size) in the same run.
// 2. Memory: peak RSS reading 1 shard vs 100 shards (each in a fresh child process); flat = bounded.
// Build first: (cd packages/shards && npx tsup). Run: node tools/bench/reader.bench.mjs
// Shards are generated once under .bench/reader/ (git-ignored). SHARDS=100 SAMPLES=250 ROUNDS=3 tune it.
import { spawnSync } from "node:child_process";
import {
  closeSync,
  createReadStream,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { WebDataset } from "../../packages/shards/dist/index.js";
import { median } from "./bench-inputs.mjs";
import { header } from "./tar-header.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const DIR = path.join(ROOT, ".bench", "reader");
const SHARDS = Number(process.env.SHARDS ?? 100);
const SAMPLES = Number(process.env.SAMPLES ?? 250); // per shard
const ROUNDS = Number(process.env.ROUNDS ?? 3); // ROUNDS=0: memory part only
const shardPath = (i) => path.join(DIR, `shard-${String(i).padStart(5, "0")}.tar`);
const pattern = path.join(DIR, `shard-{00000..${String(SHARDS - 1).padStart(5, "0")}}.tar`);

// tar writing: plain ustar, independent of the code under test

/** LAION-like samples: a jpg of 10–70 KB (random bytes), a caption txt and a metadata json. */
function generate() {
  const manifest = path.join(DIR, "manifest.json");
  const want = JSON.stringify({ SHARDS, SAMPLES, v: 1 });
  if (existsSync(manifest) && readFileSync(manifest, "utf8") === want) return;
  mkdirSync(DIR, { recursive: true });
  const pool = Buffer.alloc(1 << 20);
  let x = 12345;
  for (let i = 0; i < pool.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    pool[i] = x >>> 24;
  }
  const pad = (n) => Buffer.alloc((512 - (n % 512)) % 512);
  for (let s = 0; s < SHARDS; s++) {
    const fd = openSync(shardPath(s), "w");
    for (let i = 0; i < SAMPLES; i++) {
      const key = `${String(s).padStart(5, "0")}${String(i).padStart(4, "0")}`;
      const size = 10_000 + ((s * 7919 + i * 104729) % 60_000);
      const off = (i * 4099) % (pool.length - size);
      const members = [
        [`${key}.jpg`, pool.subarray(off, off + size)],
        [
          `${key}.txt`,
          Buffer.from(`a photo number ${key} of something nice, with a caption of usual length`),
        ],
        [
          `${key}.json`,
          Buffer.from(
            JSON.stringify({ key, url: `https://example.com/${key}.jpg`, width: 256, height: 256 }),
          ),
        ],
      ];
      for (const [name, data] of members) {
        writeSync(fd, header(name, data.length));
        writeSync(fd, data);
        writeSync(fd, pad(data.length));
      }
    }
    writeSync(fd, Buffer.alloc(1024));
    closeSync(fd);
  }
  writeFileSync(manifest, want);
}

async function rawRead(files) {
  let bytes = 0;
  for (const f of files) {
    for await (const chunk of createReadStream(f, { highWaterMark: 1 << 20 })) bytes += chunk.length;
  }
  return bytes;
}

/** The machine's ceiling: synchronous 1 MiB reads into one reused buffer (no thread-pool round trips). */
function syncRead(files) {
  const buffer = Buffer.allocUnsafe(1 << 20);
  let bytes = 0;
  for (const f of files) {
    const fd = openSync(f, "r");
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n <= 0) break;
      bytes += n;
    }
    closeSync(fd);
  }
  return bytes;
}

async function readerRead(urls) {
  let samples = 0;
  let bytes = 0;
  for await (const s of WebDataset(urls)) {
    samples++;
    bytes += s.jpg.length + s.txt.length + s.json.length;
  }
  return { samples, bytes };
}

/** Wall-clock and CPU (user + system) seconds of `fn`; CPU time moves less with the load of a shared machine. */
async function time(fn) {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const result = await fn();
  const c = process.cpuUsage(c0);
  return { result, seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpu: (c.user + c.system) / 1e6 };
}

// --- child mode: memory while reading `--rss <n> [shuffleBuffer]` shards (run with --expose-gc) ---
if (process.argv[2] === "--rss") {
  const n = Number(process.argv[3]);
  const shuffleBuffer = Number(process.argv[4] ?? 0);
  const urls = Array.from({ length: n }, (_, i) => shardPath(i));
  let peakRss = 0;
  let peakLive = 0;
  let samples = 0;
  for await (const _ of WebDataset(urls, { shuffleBuffer, seed: 1 })) {
    if (++samples % 100 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
    if (samples % 200 === 0) {
      // Live memory: what is still reachable after a full GC (JS heap + Buffers).
      globalThis.gc();
      const m = process.memoryUsage();
      peakLive = Math.max(peakLive, m.heapUsed + m.external);
    }
  }
  console.log(
    JSON.stringify({ shards: n, samples, peakRssMiB: peakRss / 2 ** 20, peakLiveMiB: peakLive / 2 ** 20 }),
  );
  process.exit(0);
}

generate();
const files = Array.from({ length: SHARDS }, (_, i) => shardPath(i));
const totalBytes = await rawRead(files); // warm the page cache
console.log(
  `# ${SHARDS} shards, ${SHARDS * SAMPLES} samples, ${(totalBytes / 1e9).toFixed(3)} GB (page cache warm)`,
);

// The load of a shared machine moves a lot within seconds, so the two reads are paired shard by
// shard (alternating which goes first) and their times summed: both see the same load.
const gbps = (seconds) => (totalBytes / seconds / 1e9).toFixed(2);
const rounds = [];
for (let r = 0; r < ROUNDS; r++) {
  const sum = { raw: 0, reader: 0, rawCpu: 0, readerCpu: 0, samples: 0 };
  for (const [i, file] of files.entries()) {
    const runRaw = async () => {
      const t = await time(() => rawRead([file]));
      sum.raw += t.seconds;
      sum.rawCpu += t.cpu;
    };
    const runReader = async () => {
      const t = await time(() => readerRead(file));
      sum.reader += t.seconds;
      sum.readerCpu += t.cpu;
      sum.samples += t.result.samples;
    };
    if (i % 2 === 0) {
      await runRaw();
      await runReader();
    } else {
      await runReader();
      await runRaw();
    }
  }
  if (sum.samples !== SHARDS * SAMPLES) throw new Error(`read ${sum.samples} samples`);
  rounds.push(sum);
  console.log(
    `round ${r + 1}: raw ${gbps(sum.raw)} GB/s | reader ${(sum.samples / sum.reader).toFixed(0)} samples/s, ${gbps(sum.reader)} GB/s | ratio ${(sum.raw / sum.reader).toFixed(2)} (cpu-time ratio ${(sum.rawCpu / sum.readerCpu).toFixed(2)})`,
  );
}
if (ROUNDS > 0) {
  console.log(
    `median of ${ROUNDS} rounds: reader ${median(rounds.map((r) => r.samples / r.reader)).toFixed(0)} samples/s, ${gbps(median(rounds.map((r) => r.reader)))} GB/s; raw ${gbps(median(rounds.map((r) => r.raw)))} GB/s; ratio reader/raw ${median(rounds.map((r) => r.raw / r.reader)).toFixed(2)} (goal >= 0.8), cpu-time ratio ${median(rounds.map((r) => r.rawCpu / r.readerCpu)).toFixed(2)}`,
  );
  // One pass over all shards with a single reader, as training uses it (no per-shard setup),
  // and the synchronous-read ceiling of this machine.
  const whole = await time(() => readerRead(pattern));
  const ceiling = await time(() => syncRead(files));
  console.log(`synchronous read ceiling (readSync, 1 MiB, reused buffer): ${gbps(ceiling.seconds)} GB/s`);
  console.log(
    `one reader over all ${SHARDS} shards: ${((SHARDS * SAMPLES) / whole.seconds).toFixed(0)} samples/s, ${gbps(whole.seconds)} GB/s`,
  );
}

const self = fileURLToPath(import.meta.url);
for (const [n, buffer] of [
  [1, 0],
  [10, 0],
  [SHARDS, 0],
  [SHARDS, 1000],
]) {
  const child = spawnSync(process.execPath, ["--expose-gc", self, "--rss", String(n), String(buffer)], {
    encoding: "utf8",
  });
  if (child.status !== 0) throw new Error(child.stderr);
  const m = JSON.parse(child.stdout);
  console.log(
    `reading ${n} shard(s)${buffer ? `, shuffleBuffer ${buffer}` : ""}: peak RSS ${m.peakRssMiB.toFixed(0)} MiB, peak live heap + buffers after GC ${m.peakLiveMiB.toFixed(1)} MiB (${m.samples} samples)`,
  );
}
