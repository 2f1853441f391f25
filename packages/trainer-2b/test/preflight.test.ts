import { expect, test } from "vitest";
import { countParameters } from "../src/model.js";
import { assertFits, deviceMemory, memoryPlan, presetModelConfig, whatFits } from "../src/preflight.js";

test("the 2b preset has ≈ 2.0e9 parameters (hand count)", () => {
  const cfg = presetModelConfig("2b");
  expect(cfg.vocabSize).toBe(5 + 32768 + 8192);
  // per layer: 4·C² attention + 3·C·F SwiGLU + 2·C norms; + V·C tied embedding + C final norm
  const C = 2560;
  const F = 6912;
  const expected = 24 * (4 * C * C + 3 * C * F + 2 * C) + cfg.vocabSize * C + C;
  expect(countParameters(cfg)).toBe(expected);
  expect(expected).toBe(2_008_161_280);
});

test("2b in fp32 with AdamW needs 32 GB before activations and is refused on a 16 GB T4", () => {
  const plan = memoryPlan(presetModelConfig("2b"), 1, 64);
  expect(plan.weightsBytes + plan.gradsBytes + plan.optimizerBytes).toBe(16 * 2_008_161_280);
  expect(plan.totalBytes).toBeGreaterThan(32e9);
  const t4 = deviceMemory("tfjs-node-gpu");
  expect(t4.bytes).toBe(16e9);
  let message = "";
  try {
    assertFits({ plan, device: t4, batchSize: 1, gradAccum: 64 });
  } catch (err) {
    message = (err as Error).message;
  }
  expect(message).toMatch(/does not fit the device: it needs .* GB/);
  expect(message).toMatch(/weights \+ gradients \+ AdamW state alone 32\.13 GB for 2\.01 B parameters/);
  expect(message).toMatch(/model\.preset: demo with training\.batch_size ≤ 64/);
  expect(message).not.toMatch(/model\.preset: 2b/);
});

test("what fits a 16 GB device, and the demo preset fits wasm's 4 GiB", () => {
  const fits = whatFits(16e9, 1);
  expect(fits.map((f) => f.preset)).toEqual(["tiny", "demo", "small", "base"]);
  expect(fits.find((f) => f.preset === "base")!.batchSize).toBeGreaterThanOrEqual(1);
  const demo = memoryPlan(presetModelConfig("demo"), 8, 1);
  expect(() =>
    assertFits({ plan: demo, device: deviceMemory("wasm"), batchSize: 8, gradAccum: 1 }),
  ).not.toThrow();
  expect(deviceMemory("cpu", 2).bytes).toBe(2e9);
});

test("device memory comes from the backend in use; device_memory_gb overrides it only within what it can address", () => {
  // the hard config's `device_memory_gb: 16` on wasm: the 4 GiB heap wins, with a warning
  const wasm = deviceMemory("wasm", 16);
  expect(wasm.bytes).toBe(4 * 2 ** 30);
  expect(wasm.warning).toMatch(/device_memory_gb 16 is more than the wasm backend can address \(4\.3 GB/);
  // so `base` (9.5 GB with AdamW) is no longer planned on wasm
  expect(memoryPlan(presetModelConfig("base"), 1, 64).totalBytes).toBeGreaterThan(wasm.bytes);
  // lowering it is an override without a warning; on a GPU (size not reported) it sets the figure
  expect(deviceMemory("wasm", 2)).toMatchObject({ bytes: 2e9, source: expect.stringContaining("override") });
  expect(deviceMemory("wasm", 2).warning).toBeUndefined();
  expect(deviceMemory("tfjs-node-gpu", 24).bytes).toBe(24e9);
});
