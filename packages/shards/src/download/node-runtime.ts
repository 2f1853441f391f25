import type { NodeRuntimeSettings } from "@laion/cli-kit";

/**
 * How a download wants node to run it, for processes that are the download's own: the
 * `download-laion-images` bin (its shebang starts node with these flags; package.test.ts checks they
 * agree) and the trainer app's download stage (set while the stage runs: tools/bench/download.bench.mjs
 * with `RUNTIME=download` sets them after the warm-up, as the app does, and gets the same 0–1 full GCs).
 * - `--heap-growing-percent=300`: V8 grows the old generation's limit by 300 % after a full GC (its default
 *   factor is far lower at a small heap). Each image passes ~240 kB of short-lived buffers (socket chunks,
 *   body, encoded output) through the heap, and V8 read that external-memory churn as a reason to mark the
 *   whole heap 5–9 times per 300 images; with the flag 0–1 (quiet A/B: 0.851 / 0.866 of bare sharp against
 *   0.774 / 0.834, docs/benchmarks.md).
 */
export const DOWNLOAD_RUNTIME: NodeRuntimeSettings = Object.freeze({
  v8Flags: [{ name: "heap-growing-percent", value: 300, v8Default: 0 }],
  nodeFlags: [],
  env: {},
});
