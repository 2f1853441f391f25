import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { selectBackend } from "@laion/vq";
import { expect, test } from "vitest";
import { trainMultimodal } from "../src/train.js";
import { fakeVq, tinyConfig } from "./helpers.js";

// Data-parallel over processes, one per device (the second T4): device 1 is a child process pinned with
// CUDA_VISIBLE_DEVICES, running this process's backend. On wasm it computes the same micro-batches as
// a worker thread would, so the losses must agree up to the optimizer's rounding (threads share a
// float64 AdamW on the host, a process leader runs tfjs's on its device).

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "train-devices-"));

function config(out: string, training: Record<string, unknown>) {
  return tinyConfig(out, {
    batch_size: 2,
    grad_accum: 2,
    max_steps: 3,
    eval_every: 100,
    eval_batches: 1,
    checkpoint_every: 100,
    warmup: 1,
    lr: 0.01,
    text_only_prob: 0.5,
    seed: 5,
    ...training,
  });
}

test("2 device processes on wasm train like 2 worker threads; the log names each device", async () => {
  const { tf } = await selectBackend({ prefer: "wasm" });
  const run = async (training: Record<string, unknown>) => {
    const lines: string[] = [];
    const r = await trainMultimodal({
      config: config(tmp(), training),
      tf,
      backendName: "wasm",
      vq: fakeVq(),
      log: (m) => lines.push(m),
    });
    return { r, lines, losses: r.records.filter((x) => x.type === "train").map((x) => x.loss) };
  };
  const threads = await run({ threads: 2 });
  const devices = await run({ devices: 2 });
  expect(threads.r.plan).toMatchObject({ threads: 2, helpers: "thread" });
  expect(devices.r.plan).toMatchObject({ threads: 2, helpers: "process" });
  expect(devices.losses).toHaveLength(3);
  // same micro-batches on the same backend, float32 gradients copied exactly over IPC; the updates
  // differ in rounding only: worker threads share a flat AdamW in float64 (flat-adamw.ts), processes
  // run tfjs's in float32 on device 0
  for (const [i, loss] of devices.losses.entries()) expect(loss).toBeCloseTo(threads.losses[i]!, 4);
  const log = devices.lines.join("\n");
  expect(log).toMatch(/devices {9}2 \(data-parallel processes, one per device\)/);
  expect(log).toMatch(/^device 0 \(this process \d+, CUDA_VISIBLE_DEVICES=0\): backend wasm$/m);
  expect(log).toMatch(
    /^device 1 \(child process \d+, CUDA_VISIBLE_DEVICES=1\): backend wasm on .*WebAssembly/m,
  );
}, 180_000);

test("the dry run names each device before starting any; threads and devices together are refused", async () => {
  const { tf } = await selectBackend({ prefer: "wasm" });
  const r = await trainMultimodal({
    config: config(tmp(), { devices: 2 }),
    tf,
    backendName: "wasm",
    dryRun: true,
    log: () => {},
  });
  expect(r.plan.text).toMatch(/ {2}device 0 \(this process, CUDA_VISIBLE_DEVICES=0\): backend wasm/);
  expect(r.plan.text).toMatch(
    / {2}device 1 \(child process, CUDA_VISIBLE_DEVICES=1\): backend wasm, loaded by the child/,
  );
  expect(() => config(tmp(), { threads: 2, devices: 2 })).toThrow(
    /training\.threads 2 and training\.devices 2: give one/,
  );
});
