// Benchmark: samples/s through a two-level mixture of in-memory async sources, as a ratio to
// iterating the same sources directly; and memory after 1M vs 10M items (flat = O(1) in length).
// Build first: (cd packages/mixer && npx tsup). Run: node --expose-gc tools/bench/mixer.bench.mjs
import { mix } from "../../packages/mixer/dist/index.js";

const N = Number(process.env.N ?? 3_000_000);

/** An endless in-memory async source cycling over a small array (the realistic shape: an async reader). */
function source(tag) {
  const items = Array.from({ length: 1024 }, (_, i) => ({ tag, i }));
  return async function* () {
    for (let i = 0; ; i = (i + 1) & 1023) yield items[i];
  };
}

function twoLevel(seed) {
  return mix(
    [
      { name: "laion", weight: 0.5, source: source("laion")() },
      {
        name: "base",
        weight: 0.5,
        source: mix(
          [
            { name: "text", weight: 0.3, source: source("text")() },
            { name: "local", weight: 0.7, source: source("local")() },
          ],
          { seed: seed + 1, stopWhen: "never" },
        ),
      },
    ],
    { seed, stopWhen: "never" },
  );
}

/** Baseline: the same number of items pulled directly from the same kind of sources (round robin). */
async function direct(n) {
  const its = ["laion", "text", "local"].map((t) => source(t)()[Symbol.asyncIterator]());
  let sink = 0;
  for (let k = 0; k < n; k++) sink += (await its[k % 3].next()).value.i;
  return sink;
}

async function mixed(n, seed = 1) {
  let sink = 0;
  let k = 0;
  for await (const step of twoLevel(seed)) {
    sink += step.source.length;
    if (++k >= n) break;
  }
  return sink;
}

async function time(fn, n) {
  const t0 = process.hrtime.bigint();
  await fn(n);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function memory() {
  globalThis.gc?.();
  const m = process.memoryUsage();
  return { rssMiB: m.rss / 2 ** 20, heapMiB: m.heapUsed / 2 ** 20 };
}

// Warm up both paths, then alternate short runs: each round times direct then mixed back to back,
// and the median of the per-round ratios is reported (the 2 shared cores are noisy; a ratio measured
// within one round is far steadier than either rate).
await direct(200_000);
await mixed(200_000);
const ROUNDS = 9;
const perRound = Math.ceil(N / ROUNDS);
const ratios = [];
let bestDirect = Number.POSITIVE_INFINITY;
let bestMixed = Number.POSITIVE_INFINITY;
for (let r = 0; r < ROUNDS; r++) {
  const d = await time(direct, perRound);
  const m = await time(mixed, perRound);
  bestDirect = Math.min(bestDirect, d);
  bestMixed = Math.min(bestMixed, m);
  ratios.push(d / m);
}
ratios.sort((x, y) => x - y);
const median = ratios[Math.floor(ROUNDS / 2)];
console.log(`items per round: ${perRound.toLocaleString("en")} x ${ROUNDS} rounds`);
console.log(
  `direct iteration of the sources (best round):   ${(perRound / bestDirect / 1e6).toFixed(2)} M items/s`,
);
console.log(
  `two-level mix laion | (text, local) (best round): ${(perRound / bestMixed / 1e6).toFixed(2)} M samples/s`,
);
console.log(
  `ratio mix / direct: median ${median.toFixed(2)} (min ${ratios[0].toFixed(2)}, max ${ratios[ROUNDS - 1].toFixed(2)})`,
);

// Memory: the mixer keeps no per-item state, so usage after 10M items should equal that after 1M.
const before = memory();
await mixed(1_000_000, 7);
const after1M = memory();
await mixed(10_000_000, 8);
const after10M = memory();
const fmt = (m) => `rss ${m.rssMiB.toFixed(1)} MiB, heap ${m.heapMiB.toFixed(1)} MiB`;
console.log(
  `memory before:      ${fmt(before)}${globalThis.gc ? "" : "  (run with --expose-gc for steadier numbers)"}`,
);
console.log(`memory after 1M:    ${fmt(after1M)}`);
console.log(`memory after 10M:   ${fmt(after10M)}`);
console.log(`heap ratio 10M / 1M: ${(after10M.heapMiB / after1M.heapMiB).toFixed(2)}`);
