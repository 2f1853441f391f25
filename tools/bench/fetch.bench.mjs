// Benchmark for @laion/fetch (not a test). Build first: (cd packages/fetch && npx tsup).
// Run: node tools/bench/fetch.bench.mjs        (generates .bench/fetch/*.parquet on first run)
//  1. rows/s filtering a local LAION-like file, as a ratio to hyparquet reading the same columns bare;
//  2. bytes fetched for --max-samples 50000 over HTTP (Range) from a >= 1 GB parquet, vs its size;
//  3. peak RSS of the CLI (child processes, run through its bin as a user runs it) for the first 10k rows
//     of the big file (same pages, same code path) and for all of it; the 10k-row file for reference;
//  4. (ONLY=4) the same through fetchLaionSubset called in-process, as the app calls it;
//  5. (ONLY=5) the JS heap a writer holds per written row group until its footer, writeFiltered vs
//     hyparquet-writer's ParquetWriter (what decides whether memory stays flat for a 200M-row output);
//  6. (ONLY=6) peak RSS of the CLI when no filter is given, so every row is written: the first 10k rows
//     (median of three) against all of them (a 10M-row output of 4,000 row groups);
//  7. (ONLY=7) peak RSS of the CLI over 10 input files of 1M rows (links to the big file read with
//     --max-rows-per-file 1000000; a 2B-row job is 128 files) against the first 10k rows of one.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { fetchLaion } from "../../packages/fetch/dist/index.js";
import { median } from "./bench-inputs.mjs";
import { generate } from "./fetch-gen.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const dir = path.join(root, ".bench/fetch");
const BIG_ROWS = Number(process.env.BIG_ROWS ?? 10_000_000);
const big = path.join(dir, `laion-like-${BIG_ROWS / 1e6}m.parquet`);
const small = path.join(dir, "laion-like-10k.parquet");
// the bin, not dist/cli.js: its shebang sets the young-generation size (a node flag) that users get
const bin = path.join(root, "packages/fetch/bin/fetch-laion-subset.js");
const COLUMNS = ["URL", "TEXT", "WIDTH", "HEIGHT", "similarity", "punsafe", "pwatermark", "hash"];
const FILTERS = { minCaptionLen: 5, minWidth: 100, maxPunsafe: 0.5 };
// ONLY=1,3 runs a subset of the measurements (1–3 by default; 4 the library path, 5 the writer per row group)
const ONLY = new Set((process.env.ONLY ?? "1,2,3").split(",").map(Number));

for (const [file, rows] of [
  [big, BIG_ROWS],
  [small, 10_000],
]) {
  if (!fs.existsSync(file)) {
    console.log(`generating ${path.relative(root, file)} (${rows} rows)…`);
    await generate(file, rows);
  }
}
const bigSize = fs.statSync(big).size;
console.log(
  `input: ${path.relative(root, big)}, ${BIG_ROWS} rows, ${(bigSize / 1e9).toFixed(2)} GB; node ${process.version}`,
);

// 1. rows/s -------------------------------------------------------------------------------
// Both read the first SPEED_ROWS rows (whole row groups) of the big file, same 8 columns, in
// alternating rounds; the ratio is the median of the per-round ratios (the machine is shared).
const SPEED_ROWS = Number(process.env.SPEED_ROWS ?? 2_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
async function bare(file) {
  const buf = await asyncBufferFromFile(file);
  const metadata = await parquetMetadataAsync(buf);
  let rows = 0;
  let start = 0;
  const t = performance.now();
  for (const g of metadata.row_groups) {
    if (start >= SPEED_ROWS) break;
    const end = start + Number(g.num_rows);
    await parquetRead({
      file: buf,
      metadata,
      columns: COLUMNS,
      rowStart: start,
      rowEnd: end,
      compressors,
      onChunk: (c) => {
        if (c.columnName === "URL") rows += c.columnData.length;
      },
    });
    start = end;
  }
  return rows / ((performance.now() - t) / 1000);
}
async function ours(file) {
  const t = performance.now();
  const { batches, stats } = fetchLaion({
    sources: [{ location: file, kind: "file" }],
    maxRowsPerFile: SPEED_ROWS,
    ...FILTERS,
  });
  for await (const _ of batches);
  return { rate: stats.rows_read / ((performance.now() - t) / 1000), stats };
}
const rounds = [];
for (let r = 0; ONLY.has(1) && r < ROUNDS; r++) {
  const b = await bare(big);
  const o = await ours(big);
  rounds.push({ bare: b, ours: o.rate, ratio: o.rate / b, kept: o.stats.rows_kept });
  console.log(
    `   round ${r + 1}: fetch ${Math.round(o.rate).toLocaleString()} rows/s, bare ${Math.round(b).toLocaleString()} rows/s, ratio ${(o.rate / b).toFixed(2)}`,
  );
}
if (ONLY.has(1))
  console.log(
    `\n1. filtering ${SPEED_ROWS.toLocaleString()} local rows (${COLUMNS.length} columns, filters ${JSON.stringify(FILTERS)}, kept ${rounds[0].kept}), ${ROUNDS} rounds:` +
      `\n   @laion/fetch best ${Math.round(Math.max(...rounds.map((r) => r.ours))).toLocaleString()} rows/s, median ${Math.round(median(rounds.map((r) => r.ours))).toLocaleString()}` +
      `\n   hyparquet bare best ${Math.round(Math.max(...rounds.map((r) => r.bare))).toLocaleString()} rows/s, median ${Math.round(median(rounds.map((r) => r.bare))).toLocaleString()}` +
      `\n   ratio fetch/bare = median ${median(rounds.map((r) => r.ratio)).toFixed(2)}`,
  );

// 2. bytes over HTTP --------------------------------------------------------------------------
if (ONLY.has(2)) await httpBytes();
async function httpBytes() {
  let served = 0;
  const server = http.createServer((req, res) => {
    const size = bigSize;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    if (req.method === "HEAD") {
      res.writeHead(200, { "Content-Length": size, "Accept-Ranges": "bytes" });
      return res.end();
    }
    const startB = m ? Number(m[1]) : 0;
    const endB = m?.[2] ? Number(m[2]) : size - 1;
    res.writeHead(m ? 206 : 200, {
      "Content-Length": endB - startB + 1,
      ...(m ? { "Content-Range": `bytes ${startB}-${endB}/${size}` } : {}),
    });
    const stream = fs.createReadStream(big, { start: startB, end: endB });
    stream.on("data", (c) => {
      served += c.length;
    });
    stream.pipe(res);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${server.address().port}/big.parquet`;
  const tHttp = performance.now();
  const remote = fetchLaion({ sources: [{ location: url, kind: "url" }], maxSamples: 50_000 });
  for await (const _ of remote.batches);
  const httpSeconds = (performance.now() - tHttp) / 1000;
  server.close();
  const md = await parquetMetadataAsync(await asyncBufferFromFile(big));
  const firstGroup = md.row_groups[0].columns.reduce(
    (a, c) => a + Number(c.meta_data.total_compressed_size),
    0,
  );
  console.log(
    `\n2. --max-samples 50000 over HTTP Range from ${(bigSize / 1e9).toFixed(2)} GB (${md.row_groups.length} row groups of ${Number(md.row_groups[0].num_rows)} rows, offset indexes present):` +
      `\n   bytes fetched ${(remote.stats.bytes_fetched / 1e6).toFixed(2)} MB (server sent ${(served / 1e6).toFixed(2)} MB) = ${((100 * remote.stats.bytes_fetched) / bigSize).toFixed(2)} % of the file, ${httpSeconds.toFixed(1)} s` +
      `\n   baseline, whole first row group (what a file without offset indexes costs): ${(firstGroup / 1e6).toFixed(1)} MB = ${((100 * firstGroup) / bigSize).toFixed(2)} %; whole file ${(bigSize / 1e6).toFixed(0)} MB` +
      `\n   ratio fetched/file = ${(remote.stats.bytes_fetched / bigSize).toFixed(4)}`,
  );
}

// 3. peak RSS ---------------------------------------------------------------------------------
const KEEP_10_PERCENT = ["--min-similarity", "0.38", "--min-caption-len", "5"];
function cliRss(input, label, extra = [], filters = KEEP_10_PERCENT) {
  const out = path.join(dir, `out-${label}`);
  const args = ["--input", input, "--out-dir", out, ...filters, ...extra];
  return timedRun([bin, ...args], out, label);
}
/** Runs a command under /usr/bin/time: its peak RSS, wall and CPU seconds, and the fetch_stats of `out` (then removed). */
function timedRun(command, out, label) {
  const t = performance.now();
  const r = spawnSync("/usr/bin/time", ["-f", "MAXRSS_KB %M CPU_S %U %S", ...command], { encoding: "utf8" });
  const seconds = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`${label}: ${r.stderr}`);
  const kb = Number(/MAXRSS_KB (\d+)/.exec(r.stderr)?.[1]);
  const cpu = /CPU_S ([\d.]+) ([\d.]+)/.exec(r.stderr);
  const stats = JSON.parse(fs.readFileSync(path.join(out, "fetch_stats.json"), "utf8"));
  fs.rmSync(out, { recursive: true, force: true });
  return { mb: kb / 1024, seconds, cpu: Number(cpu?.[1]) + Number(cpu?.[2]), stats };
}
if (ONLY.has(3)) {
  const line = (r) =>
    `${r.mb.toFixed(0)} MB (${r.stats.rows_read} read, ${r.stats.rows_kept} kept, ${r.seconds.toFixed(1)} s, CPU ${r.cpu.toFixed(1)} s)`;
  // the baseline's peak moves by ±4 MB from run to run (when V8 grows its young generation, when a GC
  // lands): the median of three runs, each shown
  const firsts = [1, 2, 3].map(() => cliRss(big, "first-10k", ["--max-rows-per-file", "10000"]));
  const first = [...firsts].sort((a, b) => a.mb - b.mb)[1];
  const r10k = cliRss(small, "10k");
  const all = cliRss(big, "big");
  console.log(
    `\n3. peak RSS of fetch-laion-subset (--min-similarity 0.38 keeps ~10 %):` +
      `\n   first 10k rows of the ${BIG_ROWS / 1e6}M-row file (--max-rows-per-file 10000, its 131k–262k-row pages), median of ${firsts.map((r) => r.mb.toFixed(0)).join(", ")} MB: ${line(first)}` +
      `\n   the 10k-row file (one 10k-row group, no offset index, 10k-row pages): ${line(r10k)}` +
      `\n   all ${BIG_ROWS / 1e6}M rows: ${line(all)}, ${Math.round(all.stats.rows_read / all.seconds).toLocaleString()} rows/s end to end` +
      `\n   ratio to the first 10k rows = ${(all.mb / first.mb).toFixed(2)}; to the 10k-row file = ${(all.mb / r10k.mb).toFixed(2)}`,
  );
}

// 4. peak RSS of a library caller ----------------------------------------------------------------------
const lib = path.join(root, "packages/fetch/dist/index.js");
function libRss(input, label, extra = {}) {
  const out = path.join(dir, `out-lib-${label}`);
  const params = { input: [input], outDir: out, minSimilarity: 0.38, minCaptionLen: 5, ...extra };
  // as the app's fetch stage calls it: with the bin's GC step (OWN_PROCESS_MEMORY), without its node flags
  const script = `const { fetchLaionSubset, OWN_PROCESS_MEMORY } = await import(${JSON.stringify(lib)}); await fetchLaionSubset({ ...${JSON.stringify(params)}, memory: OWN_PROCESS_MEMORY });`;
  return timedRun([process.execPath, "--input-type=module", "-e", script], out, label);
}
if (ONLY.has(4)) {
  const line = (r) =>
    `${r.mb.toFixed(0)} MB (${r.stats.rows_read} read, ${r.seconds.toFixed(1)} s, CPU ${r.cpu.toFixed(1)} s)`;
  console.log(
    `\n4. peak RSS of fetchLaionSubset({ memory: OWN_PROCESS_MEMORY }) called from plain node (the app's path), first 10k rows → all ${BIG_ROWS / 1e6}M:`,
  );
  const firsts = [1, 2, 3].map(() => libRss(big, "first-10k", { maxRowsPerFile: 10_000 }));
  const first = [...firsts].sort((a, b) => a.mb - b.mb)[1];
  const all = libRss(big, "big");
  console.log(
    `   first 10k median of ${firsts.map((r) => r.mb.toFixed(0)).join(", ")} MB: ${line(first)}; all: ${line(all)}; ratio ${(all.mb / first.mb).toFixed(2)}`,
  );
}

// 5. what the writer holds per written row group until its footer ----------------------------------------
// Child processes with --expose-gc (tools/bench/fetch-row-groups.mjs): writeFiltered against
// hyparquet-writer's ParquetWriter with the same columns, META_GROUPS groups of 2,500 rows (400 = 1M rows).
if (ONLY.has(5)) {
  const groups = Number(process.env.META_GROUPS ?? 400);
  const script = path.join(root, "tools/bench/fetch-row-groups.mjs");
  const held = (writer) => {
    const out = path.join(dir, `row-groups-${writer}.parquet`);
    const r = spawnSync(process.execPath, ["--expose-gc", script, writer, String(groups), out], {
      encoding: "utf8",
    });
    fs.rmSync(out, { force: true });
    if (r.status !== 0) throw new Error(`fetch-row-groups ${writer}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const ours = held("fetch");
  const base = held("hyparquet");
  const line = (r) =>
    `${Math.round(r.heldBytesPerGroup).toLocaleString()} B per group (live heap ${r.heapMbFirst.toFixed(1)} → ${r.heapMbLast.toFixed(1)} MB), ` +
    `${((r.heldBytesPerGroup * 400) / 1e6).toFixed(2)} MB per 1M rows, ${((r.heldBytesPerGroup * 80_000) / 1e6).toFixed(0)} MB for a 200M-row output`;
  console.log(
    `\n5. JS heap held per written row group until the footer (${groups} groups of 2,500 LAION-like rows, slope after forced GCs):` +
      `\n   writeFiltered (metadata spooled to disk): ${line(ours)}` +
      `\n   hyparquet-writer's ParquetWriter, same columns: ${line(base)}` +
      `\n   footer on disk: ${Math.round(ours.footerBytesPerGroup)} B per group (${((ours.footerBytesPerGroup * 80_000) / 1e6).toFixed(0)} MB for a 200M-row output)`,
  );
}

// 6. peak RSS when every row is kept ----------------------------------------------------------------
if (ONLY.has(6)) {
  const line = (r) =>
    `${r.mb.toFixed(0)} MB (${r.stats.rows_kept} kept, ${r.seconds.toFixed(1)} s, CPU ${r.cpu.toFixed(1)} s)`;
  const firsts = [1, 2, 3].map(() => cliRss(big, "all-first-10k", ["--max-rows-per-file", "10000"], []));
  const first = [...firsts].sort((a, b) => a.mb - b.mb)[1];
  const all = cliRss(big, "all-kept", [], []);
  console.log(
    `\n6. peak RSS of fetch-laion-subset with no filter (every row written; 2,500-row output groups):` +
      `\n   first 10k rows, median of ${firsts.map((r) => r.mb.toFixed(0)).join(", ")} MB: ${line(first)}` +
      `\n   all ${BIG_ROWS / 1e6}M rows: ${line(all)}` +
      `\n   ratio = ${(all.mb / first.mb).toFixed(2)}`,
  );
}

// 7. many input files ------------------------------------------------------------------------------------
if (ONLY.has(7)) {
  const line = (r) =>
    `${r.mb.toFixed(0)} MB (${r.stats.rows_read} read, ${r.stats.rows_kept} kept, ${r.seconds.toFixed(1)} s, CPU ${r.cpu.toFixed(1)} s)`;
  const links = path.join(dir, "files");
  fs.rmSync(links, { recursive: true, force: true });
  fs.mkdirSync(links);
  const inputs = Array.from({ length: 10 }, (_, i) => {
    const link = path.join(links, `part-${i}.parquet`);
    fs.symlinkSync(big, link);
    return link;
  });
  const firsts = [1, 2, 3].map(() => cliRss(inputs[0], "files-first-10k", ["--max-rows-per-file", "10000"]));
  const first = [...firsts].sort((a, b) => a.mb - b.mb)[1];
  const all = cliRss(inputs[0], "files-all", [
    "--max-rows-per-file",
    "1000000",
    "--input",
    ...inputs.slice(1),
  ]);
  fs.rmSync(links, { recursive: true, force: true });
  console.log(
    `\n7. peak RSS of fetch-laion-subset over 10 input files of 1M rows each (10 parts, then merged):` +
      `\n   first 10k rows of one, median of ${firsts.map((r) => r.mb.toFixed(0)).join(", ")} MB: ${line(first)}` +
      `\n   10 files × 1M rows: ${line(all)}` +
      `\n   ratio = ${(all.mb / first.mb).toFixed(2)}`,
  );
}
