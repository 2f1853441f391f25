import path from "node:path";
import { loadConfig } from "@laion/trainer-2b";
import { describe, expect, test } from "vitest";
import { choosePreset } from "../src/stage-train.js";

const root = path.resolve(import.meta.dirname, "../../..");

describe("choosePreset (train.preset: auto)", () => {
  test("the real 2B config on a 16 GB T4 falls back to the largest preset that fits, keeping the effective batch", () => {
    const tc = loadConfig(path.join(root, "configs/train_2b_multimodal_hard.yaml"));
    expect(tc.model.preset).toBe("2b");
    const choice = choosePreset(tc, "auto", "tensorflow-gpu");
    expect(choice.reason).toMatch(/preset 2b does not fit 16\.0 GB/);
    expect(choice.config.model.preset).not.toBe("2b");
    expect(choice.config.training.batch_size * choice.config.training.grad_accum).toBeGreaterThanOrEqual(
      tc.training.batch_size * tc.training.grad_accum,
    );
  });

  test("a config that fits is kept as it is", () => {
    const tc = loadConfig(path.join(root, "configs/demo.yaml"));
    const choice = choosePreset(tc, "auto", "wasm");
    expect(choice.config).toEqual(tc);
    expect(choice.reason).toMatch(/^preset demo fits/);
  });

  test("a preset name is used as is; an unknown one lists the known presets", () => {
    const tc = loadConfig(path.join(root, "configs/demo.yaml"));
    expect(choosePreset(tc, "tiny", "wasm").config.model.preset).toBe("tiny");
    expect(() => choosePreset(tc, "huge", "wasm")).toThrow(
      /train\.preset "huge" is not a trainer preset; known: auto, tiny, demo/,
    );
  });
});
