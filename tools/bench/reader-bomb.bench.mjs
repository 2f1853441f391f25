// Benchmark: peak RSS of the webdataset reader on decompression bombs vs an ordinary shard.
// Shards (generated under .bench/bomb/, git-ignored; never committed):
//   ordinary.tar      200 samples of a 48 KiB .bin + a caption .txt (≈ 10 MB), the baseline
//   bomb.tar.gz       ≈ 1 MB of gzip whose tar holds one member of 1 GiB of zeros (+ two small samples)
//   member-bomb.tar   a plain tar holding x.txt.gz: ≈ 1 MB that gunzips to 1 GiB of zeros (+ two small samples)
// Each shard is read to the end by `laion-shards stats`'s library call in a fresh process with the default
// options (maxMemberBytes 256 MiB); the figure is the child's peak RSS, and the ratio is bomb / ordinary,
// measured in the same run. Goal (issue 15): ≤ 2×. Before the caps, both bombs took ~2.2 GB.
// Build first: (cd packages/shards && npx tsup). Run: node tools/bench/reader-bomb.bench.mjs
import { spawnSync } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, statSync } from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { createGzip } from "node:zlib";
import { header } from "./tar-header.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const DIR = path.join(ROOT, ".bench", "bomb");
const GiB = 2 ** 30;

// --- tar writing (plain ustar; independent of the code under test) ---
const padding = (size) => Buffer.alloc((512 - (size % 512)) % 512);
const member = (name, data) => [header(name, data.length), data, padding(data.length)];
const small = () => [...member("a.txt", Buffer.from("first")), ...member("z.txt", Buffer.from("last"))];
const END = Buffer.alloc(1024);

/** Yields the tar of one `name` member of `size` zero bytes, in 1 MiB chunks, between two small samples. */
function* zeroTar(name, size) {
  yield* member("a.txt", Buffer.from("first"));
  yield header(name, size);
  const chunk = Buffer.alloc(1 << 20);
  for (let left = size; left > 0; left -= chunk.length)
    yield left >= chunk.length ? chunk : chunk.subarray(0, left);
  yield padding(size);
  yield* member("z.txt", Buffer.from("last"));
  yield END;
}

async function generate() {
  mkdirSync(DIR, { recursive: true });
  const ordinary = path.join(DIR, "ordinary.tar");
  if (!existsSync(ordinary)) {
    const parts = [];
    let x = 1;
    for (let i = 0; i < 200; i++) {
      const bin = Buffer.alloc(48 * 1024);
      for (let j = 0; j < bin.length; j++) {
        x = (x * 1103515245 + 12345) >>> 0;
        bin[j] = x >>> 24;
      }
      const key = String(i).padStart(5, "0");
      parts.push(...member(`${key}.bin`, bin), ...member(`${key}.txt`, Buffer.from(`caption ${i}`)));
    }
    await pipeline(parts.concat(END), createWriteStream(ordinary));
  }
  const bomb = path.join(DIR, "bomb.tar.gz");
  if (!existsSync(bomb))
    await pipeline(zeroTar("zeros.bin", GiB), createGzip({ level: 9 }), createWriteStream(bomb));
  const memberBomb = path.join(DIR, "member-bomb.tar");
  if (!existsSync(memberBomb)) {
    const chunks = [];
    const gzip = createGzip({ level: 9 });
    gzip.on("data", (c) => chunks.push(c));
    const done = new Promise((resolve) => gzip.on("end", resolve));
    const zeros = Buffer.alloc(1 << 20);
    for (let i = 0; i < 1024; i++) if (!gzip.write(zeros)) await new Promise((r) => gzip.once("drain", r));
    gzip.end();
    await done;
    const data = Buffer.concat(chunks);
    await pipeline(
      [...small().slice(0, 3), ...member("x.txt.gz", data), ...small().slice(3), END],
      createWriteStream(memberBomb),
    );
  }
  return { ordinary, bomb, memberBomb };
}

/** Reads `file` to the end in a fresh process; returns its peak RSS (bytes), samples and errors. */
function measure(file) {
  const script = `
    const { datasetStats } = await import(${JSON.stringify(path.join(ROOT, "packages/shards/dist/index.js"))});
    const s = await datasetStats({ urls: ${JSON.stringify(file)} });
    console.log(JSON.stringify({ samples: s.samples, errors: s.errors.map((e) => e.message), maxRss: process.resourceUsage().maxRSS * 1024 }));`;
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  if (child.status !== 0) throw new Error(child.stderr);
  return JSON.parse(child.stdout.trim().split("\n").at(-1));
}

const files = await generate();
const MB = (n) => `${(n / 2 ** 20).toFixed(0)} MiB`;
const base = measure(files.ordinary);
console.log(
  `ordinary.tar     ${MB(statSync(files.ordinary).size)} on disk: peak RSS ${MB(base.maxRss)}, ${base.samples} samples`,
);
const results = {};
for (const name of ["bomb", "memberBomb"]) {
  const r = measure(files[name]);
  results[name] = r.maxRss / base.maxRss;
  console.log(
    `${path.basename(files[name]).padEnd(16)} ${MB(statSync(files[name]).size)} on disk, 1 GiB inflated: peak RSS ${MB(r.maxRss)} = ${results[name].toFixed(2)}× ordinary, ${r.samples} samples, errors: ${r.errors.join(" | ")}`,
  );
}
console.log(JSON.stringify({ ordinaryRss: base.maxRss, ratios: results, goal: "<= 2" }));
