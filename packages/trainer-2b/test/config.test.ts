import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test } from "vitest";
import { applyOverrides, loadConfig, modelConfigFor, parseConfig, resolveShape } from "../src/config.js";
import { trainManifestParams } from "../src/run-manifest.js";

const repoConfigs = path.resolve(import.meta.dirname, "../../../configs");

function yamlFile(text: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cfg-")), "c.yaml");
  fs.writeFileSync(file, text);
  return file;
}

test("an unknown key is an error naming its path and the allowed keys", () => {
  const file = yamlFile("training:\n  lr: 0.001\n  learning_rate: 0.1\n");
  expect(() => loadConfig(file)).toThrow(
    /unknown key training\.learning_rate \(allowed in training: laion_path, laion_prob/,
  );
});

test("a wrong type names the key and what was expected", () => {
  expect(() => parseConfig({ training: { batch_size: "eight" } })).toThrow(
    /training\.batch_size: .*expected number/,
  );
  expect(() => parseConfig({ training: { laion_prob: 1.5 } })).toThrow(/training\.laion_prob: .*<=1/);
  expect(() => parseConfig({ model: { preset: "7b" } })).toThrow(
    /model\.preset: must be one of "tiny", "demo", "small", "base", "1b", "2b"/,
  );
  expect(() => loadConfig(yamlFile("training: [1, 2"))).toThrow(/invalid YAML/);
});

test("defaults fill what a file leaves out; flags override the file", () => {
  const cfg = parseConfig({ training: { laion_path: "data/laion/{00000..00003}.tar", laion_prob: 0.2 } });
  expect(cfg.training.text_only_prob).toBe(0.5);
  expect(cfg.model.preset).toBe("demo");
  const over = applyOverrides(cfg, { laionProb: 0.5, maxSteps: 7, outputDir: "out" });
  expect(over.training.laion_prob).toBe(0.5);
  expect(over.training.max_steps).toBe(7);
  expect(over.output_dir).toBe("out");
  expect(cfg.training.laion_prob).toBe(0.2);
  expect(() => applyOverrides(cfg, { laionProb: 2 })).toThrow(/flags: training\.laion_prob/);
});

test("the shipped configs validate", () => {
  for (const name of ["demo.yaml", "train_2b_multimodal_hard.yaml", "grounded.yaml"]) {
    const cfg = loadConfig(path.join(repoConfigs, name));
    expect(resolveShape(cfg).dModel).toBeGreaterThan(0);
  }
  expect(resolveShape(loadConfig(path.join(repoConfigs, "train_2b_multimodal_hard.yaml"))).dModel).toBe(2560);
});

test("model.image_embedding / image_positions: recorded in the model config only when asked for", () => {
  const images = { offset: 431, size: 512, codeDim: 16, side: 16 };
  // the defaults leave the model config as before, so older checkpoints still resume
  expect(modelConfigFor(parseConfig({}), 943, images)).not.toHaveProperty("image");
  const both = parseConfig({ model: { image_embedding: "codebook", image_positions: "grid" } });
  expect(modelConfigFor(both, 943, images).image).toEqual({
    offset: 431,
    size: 512,
    codebookDim: 16,
    side: 16,
  });
  const grid = parseConfig({ model: { image_positions: "grid" } });
  expect(modelConfigFor(grid, 943, images).image).toEqual({
    offset: 431,
    size: 512,
    codebookDim: 0,
    side: 16,
  });
  // a text-only model has no codes to read
  expect(modelConfigFor(both, 431)).not.toHaveProperty("image");
  expect(() => parseConfig({ model: { image_embedding: "vq" } })).toThrow(/model\.image_embedding/);
});

test("training.loss_weight_image_captioned: optional, so a run that leaves it out keeps its manifest", () => {
  const plain = parseConfig({}, "x.yaml");
  expect(plain.training.loss_weight_image_captioned).toBeUndefined();
  expect(Object.keys(trainManifestParams(plain).training as object)).not.toContain(
    "loss_weight_image_captioned",
  );
  const set = parseConfig(
    { training: { loss_weight_image: 0.25, loss_weight_image_captioned: 1 } },
    "x.yaml",
  );
  expect(set.training.loss_weight_image_captioned).toBe(1);
  expect(trainManifestParams(set).training).toMatchObject({ loss_weight_image_captioned: 1 });
  expect(() => parseConfig({ training: { loss_weight_image_captioned: -1 } }, "x.yaml")).toThrow(
    /training\.loss_weight_image_captioned/,
  );
});
