import { expect, test } from "vitest";
import { countParameters } from "../src/model.js";
import {
  assertFits,
  assertTensorFits,
  deviceMemory,
  largestTensor,
  memoryPlan,
  presetModelConfig,
  whatFits,
} from "../src/preflight.js";

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

test("webgpu: the largest tensor is checked against the adapter's per-buffer limit", () => {
  const cfg = presetModelConfig("base");
  const top = largestTensor(cfg, 8);
  // logits dominate: B·T rows × the whole vocabulary
  expect(top.name).toMatch(/^logits \[B·T, V\]/);
  expect(top.bytes).toBe(4 * 8 * cfg.seqLen * cfg.vocabSize);
  const limit = 2 ** 27; // llvmpipe's maxStorageBufferBindingSize (128 MiB), as measured here
  const fits = Math.floor(limit / (4 * cfg.seqLen * cfg.vocabSize));
  expect(fits).toBeGreaterThan(0);
  const check = (batchSize: number) => () =>
    assertTensorFits({ cfg, batchSize, maxTensorBytes: limit, device: "webgpu on llvmpipe" });
  expect(check(fits)).not.toThrow();
  expect(check(fits + 1)).toThrow(/exceeds what one buffer may hold on webgpu on llvmpipe: 128 MiB/);
  expect(check(fits + 1)).toThrow(new RegExp(`training.batch_size ≤ ${fits} fits`));
  // no limit known (wasm, cpu, tfjs-node): nothing to check
  expect(() =>
    assertTensorFits({ cfg, batchSize: 512, maxTensorBytes: undefined, device: "wasm" }),
  ).not.toThrow();
});

test("webgpu memory: a hardware adapter defaults like a GPU, a software one lives in RAM", () => {
  expect(deviceMemory("webgpu", null, { software: false }).bytes).toBe(16e9);
  expect(deviceMemory("webgpu", null, { software: true }).source).toBe("80% of system RAM");
});
