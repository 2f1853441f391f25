import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect, test } from "vitest";
import { resolveConfig } from "../src/config.js";
import type { TrainVQEvent, TrainVQParams } from "../src/index.js";
import { SPOOL_MIN_BYTES } from "../src/ipc-spool.js";
import { VQ } from "../src/vq-model.js";
import { deviceEnv } from "../src/worker-pool.js";
import { small, trainSmall } from "./helpers.js";

// Data-parallel over processes, one per device (the second T4 on Kaggle): each helper is a child process
// pinned with CUDA_VISIBLE_DEVICES and running the parent's backend. Here the devices are wasm
// processes: the same shards on the same backend as worker threads, so the losses must be identical.

async function run(
  name: string,
  opts: Pick<TrainVQParams, "threads" | "devices" | "config">,
  onEvent?: (e: TrainVQEvent) => void,
) {
  const dir = await mkdtemp(path.join(tmpdir(), "vq-devices-"));
  return trainSmall(dir, name, { maxSteps: 3, seed: 4, backend: "wasm", ...opts }, onEvent);
}

test("3 device processes on wasm train exactly like 3 worker threads, and the start event names each device", async () => {
  const threads = await run("threads", { threads: 3 });
  const devices = await run("devices", { devices: 3 });
  expect(devices.start).toMatchObject({ backend: "wasm", threads: 3 });
  // same shards, same backend, float32 arrays copied exactly by the IPC channel: tolerance 0
  expect(devices.losses).toEqual(threads.losses);
  expect(devices.losses).toHaveLength(3);
  const lines = (devices.start as { devices?: string[] }).devices ?? [];
  expect(lines).toHaveLength(3);
  expect(lines[0]).toMatch(/^device 0 \(this process \d+, CUDA_VISIBLE_DEVICES=0\): backend wasm on /);
  expect(lines[1]).toMatch(/^device 1 \(child process \d+, CUDA_VISIBLE_DEVICES=1\): backend wasm on /);
  expect(lines[2]).toMatch(/^device 2 \(child process \d+, CUDA_VISIBLE_DEVICES=2\): backend wasm on /);
  // three different processes
  const pids = lines.map((l) => /process (\d+)/.exec(l)?.[1]);
  expect(new Set(pids).size).toBe(3);
}, 180_000);

test("weights too large for the pipe go through the spool folder, and 2 device processes still train exactly like 2 threads", async () => {
  const config = { ...small, channels: [32, 64, 128, 128] };
  const model = VQ.create(resolveConfig(config), 0);
  const bytes = model.trainable().reduce((a, v) => a + 4 * v.size, 0);
  model.dispose();
  expect(bytes).toBeGreaterThan(SPOOL_MIN_BYTES); // so the weights and gradients cross as files
  const threads = await run("threads-spooled", { threads: 2, config });
  const devices = await run("devices-spooled", { devices: 2, config });
  expect(devices.losses).toEqual(threads.losses);
  expect(devices.losses).toHaveLength(3);
}, 180_000);

test("a device process that dies stops training with an error naming the device", async () => {
  let killed = false;
  const dying = run("dying", { devices: 2 }, (e) => {
    if (e.type !== "start") return;
    const pid = Number(/^device 1 \(child process (\d+)/.exec(e.devices?.[1] ?? "")?.[1]);
    process.kill(pid, "SIGKILL");
    killed = true;
  });
  await expect(dying).rejects.toThrow(
    /device 1 \(child process \d+, CUDA_VISIBLE_DEVICES=1\) was killed by SIGKILL/,
  );
  expect(killed).toBe(true);
}, 120_000);

test("threads and devices together are refused; device ids follow CUDA_VISIBLE_DEVICES", async () => {
  await expect(run("both", { threads: 2, devices: 2 })).rejects.toThrow(/threads 2 and devices 2: give one/);
  expect(deviceEnv(1, undefined)).toEqual({ CUDA_VISIBLE_DEVICES: "1" });
  expect(deviceEnv(1, "2,3")).toEqual({ CUDA_VISIBLE_DEVICES: "3" });
  expect(() => deviceEnv(2, "2,3")).toThrow(/device 2: CUDA_VISIBLE_DEVICES=2,3 lists only 2 device/);
});
