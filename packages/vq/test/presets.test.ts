import { expect, test } from "vitest";
import { PRESET_LR } from "../src/config.js";
import { forwardFlops, resolveConfig, VQ_PRESETS } from "../src/index.js";

test("every preset is a valid config with a learning rate", () => {
  for (const name of Object.keys(VQ_PRESETS) as (keyof typeof VQ_PRESETS)[]) {
    const config = resolveConfig({}, name);
    expect(config.imageSize % config.downsample).toBe(0);
    expect(PRESET_LR[name]).toBeGreaterThan(0);
  }
});

test("64-f4: a 16×16 code grid at 64 px, the same 256 tokens as the 256 px presets at f=16", () => {
  const f4 = resolveConfig({}, "64-f4");
  const f16 = resolveConfig({}, "256-f16-1k");
  expect(f4.imageSize / f4.downsample).toBe(16);
  expect(f16.imageSize / f16.downsample).toBe(16);
  // cheaper per image than the f=8 demo preset's 231 MFLOP: it trains on 2 cores
  expect(forwardFlops(f4)).toBeLessThan(forwardFlops(resolveConfig({}, "demo")));
});

test("an unknown preset or a downsample outside 4/8/16 names the problem", () => {
  expect(() => resolveConfig({}, "64-f2" as never)).toThrow(
    /unknown VQ preset "64-f2"; use one of: demo, 64-f4/,
  );
  expect(() => resolveConfig({ downsample: 2 as never })).toThrow(/invalid VQ config: downsample/);
});
