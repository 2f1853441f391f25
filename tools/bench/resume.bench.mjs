// Benchmark of resuming a @laion/shards WebDataset from state(): time to the first sample after
// restore() at 1.5k samples in vs 1,000.5k samples in (goal: the same within noise, since a resume
// opens only the shard it stopped in), and, as the baseline, replaying 1.5k samples by iterating.
// The dataset is 2,000 shards of 1,000 LAION-sized samples (one generated tar listed 2,000 times: the
// reader treats each entry as its own shard position), with shuffleShards and a 100-sample block shuffle.
// Build first: (cd packages/shards && npx tsup). Run: node tools/bench/resume.bench.mjs [ROUNDS=7]
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ShardWriter, WebDataset } from "../../packages/shards/dist/index.js";
import { median } from "./bench-inputs.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const DIR = path.join(ROOT, ".bench", "resume");
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const PER_SHARD = 1000;
const SHARDS = 2000;
const OPTIONS = { shuffleShards: true, shuffleBuffer: 100, seed: 3 };

async function generate() {
  const file = path.join(DIR, "00000.tar");
  if (existsSync(file)) return file;
  mkdirSync(DIR, { recursive: true });
  const writer = new ShardWriter({ output: DIR, maxCount: PER_SHARD });
  let x = 1;
  for (let i = 0; i < PER_SHARD; i++) {
    // 10–70 KB of pseudo-random "jpg" bytes, a caption and metadata, like a downloaded LAION sample.
    const jpg = Buffer.alloc(10_000 + (i % 7) * 10_000);
    for (let j = 0; j < jpg.length; j++) {
      x = (x * 1103515245 + 12345) >>> 0;
      jpg[j] = x >>> 24;
    }
    await writer.write({ __key__: String(i).padStart(9, "0"), jpg, txt: `caption ${i}`, json: { i } });
  }
  await writer.close();
  return file;
}

async function firstSampleAfterRestore(urls, at) {
  const t0 = performance.now();
  const reader = WebDataset(urls, OPTIONS);
  reader.restore({
    version: 1,
    seed: 3,
    epoch: 0,
    shards: SHARDS,
    shard: Math.floor(at / PER_SHARD),
    sample: at % PER_SHARD,
  });
  for await (const _ of reader) break;
  return performance.now() - t0;
}

async function firstSampleAfterReplay(urls, at) {
  const t0 = performance.now();
  let n = 0;
  for await (const _ of WebDataset(urls, OPTIONS)) if (n++ === at) break;
  return performance.now() - t0;
}

const file = await generate();
const urls = Array(SHARDS).fill(file);
await firstSampleAfterRestore(urls, 1500); // warm the page cache and the JIT
const small = [];
const large = [];
const replay = [];
for (let r = 0; r < ROUNDS; r++) {
  small.push(await firstSampleAfterRestore(urls, 1_500));
  large.push(await firstSampleAfterRestore(urls, 1_000_500));
  replay.push(await firstSampleAfterReplay(urls, 1_500));
}
const ms = (x) => `${x.toFixed(1)} ms`;
console.log(`time to the first sample, median of ${ROUNDS} rounds (min–max):`);
console.log(
  `  restore at 1.5k samples:      ${ms(median(small))} (${ms(Math.min(...small))}–${ms(Math.max(...small))})`,
);
console.log(
  `  restore at 1,000.5k samples:  ${ms(median(large))} (${ms(Math.min(...large))}–${ms(Math.max(...large))})`,
);
console.log(`  replay to 1.5k samples:       ${ms(median(replay))}`);
console.log(
  `ratio restore 1M / restore 1k: ${(median(large) / median(small)).toFixed(2)} (goal: 1 within noise)`,
);
const perSample = median(replay) / 1500;
console.log(
  `replay to 1M would take ~${((perSample * 1_000_500) / 1000).toFixed(0)} s at the measured replay rate`,
);
