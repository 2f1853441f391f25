import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { selectBackend } from "@laion/vq";
import { expect, test } from "vitest";
import { trainMultimodal } from "../src/train.js";
import { fakeVq, tinyConfig } from "./helpers.js";

// A few steps of the real training loop on webgpu (in CI: Mesa's software Vulkan, ~1.4 GFLOP/s, hence
// the tiny model) give the losses wasm gives for the same seed and data: both are float32, so they
// agree to rounding, stated here as 1e-3 relative. Held-out eval and report generation run too.

async function webgpuAvailable(): Promise<boolean> {
  try {
    await selectBackend({ prefer: "webgpu" });
    return true;
  } catch (err) {
    // CI installs lavapipe (tools/scripts/install-vulkan.sh): there a missing adapter is a failure
    if (process.env.CI) throw err;
    return false;
  }
}

const config = (out: string) =>
  tinyConfig(
    out,
    {
      batch_size: 2,
      grad_accum: 1,
      max_steps: 3,
      eval_every: 3,
      eval_batches: 1,
      checkpoint_every: 3,
      warmup: 1,
      lr: 0.01,
      seed: 5,
      sample_max_tokens: 2,
      threads: 1,
    },
    {},
    { seq_len: 16, text_vocab: 300 },
  );

test.runIf(await webgpuAvailable())(
  "3 training steps on webgpu match wasm (same seed, 1e-3 relative), eval and checkpoint included",
  async () => {
    const run = async (backend: "webgpu" | "wasm") => {
      const { tf } = await selectBackend({ prefer: backend });
      const out = fs.mkdtempSync(path.join(os.tmpdir(), `train-${backend}-`));
      const r = await trainMultimodal({
        config: config(out),
        tf,
        backendName: backend,
        vq: fakeVq(),
        log: () => {},
      });
      return r.records;
    };
    const gpu = await run("webgpu");
    const cpu = await run("wasm");
    const losses = (rs: typeof gpu, type: string) => rs.filter((r) => r.type === type).map((r) => r.loss);
    expect(losses(gpu, "train")).toHaveLength(3);
    for (const type of ["train", "eval"]) {
      const a = losses(cpu, type);
      const b = losses(gpu, type);
      expect(b).toHaveLength(a.length);
      for (const [i, l] of b.entries()) expect(Math.abs(l - a[i]!)).toBeLessThan(1e-3 * a[i]!);
    }
  },
  300_000,
);
