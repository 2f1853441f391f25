import type { NodeRuntimeSettings } from "@laion/cli-kit";

/**
 * How a fetch wants node to run it, for processes that are the fetch's own: the `fetch-laion-subset` bin
 * (its shebang carries `env` and `nodeFlags`, its CLI sets `v8Flags`; package.test.ts checks they agree)
 * and the trainer app's fetch stage (`v8Flags` while the stage runs; the start-up settings for its whole
 * process). Measured in tools/bench/fetch.bench.mjs, docs/benchmarks.md:
 * - `--heap-growing-percent=10`: V8 lets the old generation grow to ~4× its live size before a full GC,
 *   and a fetch allocates its batches' strings fast (at 2M rows the heap swung between 70 and 280 MB of
 *   mostly garbage); growing it 10 % at a time keeps the peak near the live size (541 → 295 MB peak RSS
 *   at 10M rows), for a few more full GCs.
 * - `--max-semi-space-size=8`: V8 grew the young generation to its maximum, 32 MB of the peak RSS, and let
 *   garbage array buffers wait for it (1M rows: 171 → 147 MB at the same CPU time).
 * - `MALLOC_MMAP_THRESHOLD_=1048576`: glibc otherwise raises its threshold to the largest block freed so
 *   far (~1.1 MB output page buffers) and keeps that much freed memory at the top of its heap (1M rows:
 *   107 → 104 MB, same CPU). Only glibc reads it (musl ignores it).
 */
export const FETCH_RUNTIME: NodeRuntimeSettings = Object.freeze({
  v8Flags: [{ name: "heap-growing-percent", value: 10, v8Default: 0 }],
  nodeFlags: ["--max-semi-space-size=8"],
  env: { MALLOC_MMAP_THRESHOLD_: "1048576" },
});
