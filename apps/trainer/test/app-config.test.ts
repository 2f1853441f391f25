import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { type AppConfig, laionFromEnv, loadAppConfig, parseAppConfig } from "../src/app-config.js";
import { buildStages } from "../src/kaggle.js";
import { resolveKaggleConfig, runKaggle } from "../src/run-kaggle.js";
import { trainConfigFor, trainStage } from "../src/stage-train.js";
import { vqParamsFor, vqStage } from "../src/stage-vq.js";

const root = path.resolve(import.meta.dirname, "../../..");
const kaggleYaml = path.join(root, "configs/kaggle.yaml");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "trainer-app-config-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** train.config is relative to the repository root, where the app runs. */
const withModelConfig = (cfg: AppConfig): AppConfig => ({
  ...cfg,
  train: { ...cfg.train, config: path.join(root, cfg.train.config) },
});

describe("configs/kaggle.yaml", () => {
  test("holds the Kaggle defaults the issue asks for", () => {
    const cfg = loadAppConfig(kaggleYaml);
    expect(cfg.laion).toMatchObject({
      enabled: false,
      hf_dataset: "laion/relaion2B-en-research-safe",
      max_samples: 20000,
      dir: "data/laion",
    });
    expect(cfg.download).toMatchObject({
      image_size: 256,
      shard_size: 1000,
      output: "data/laion/webdataset",
    });
    expect(cfg.local.image_root).toBe("data/explicit_media");
    expect(cfg.vq.out).toBe("model_output/visual_vq.pt");
    expect(cfg.train).toMatchObject({
      config: "configs/train_2b_multimodal_hard.yaml",
      output_dir: "output_2b_multimodal_hard",
      preset: "auto",
    });
  });

  test("an unknown or mistyped key is an error naming it and the allowed keys", () => {
    expect(() => parseAppConfig({ download: { image_sise: 256 } }, "x.yaml")).toThrow(
      /x\.yaml: unknown key download\.image_sise \(allowed: output, image_size,/,
    );
    expect(() => parseAppConfig({ vq: { laion_prob: 2 } }, "x.yaml")).toThrow(/x\.yaml: vq\.laion_prob: /);
  });
});

describe("LAION switch", () => {
  test("USE_LAION accepts 1/0/true/false and rejects anything else", () => {
    expect(laionFromEnv({ USE_LAION: "1" })).toBe(true);
    expect(laionFromEnv({ USE_LAION: "true" })).toBe(true);
    expect(laionFromEnv({ USE_LAION: "0" })).toBe(false);
    expect(laionFromEnv({})).toBeUndefined();
    expect(() => laionFromEnv({ USE_LAION: "maybe" })).toThrow(/USE_LAION must be 1\/0/);
  });

  test("--laion beats USE_LAION, which beats the file", () => {
    expect(resolveKaggleConfig({ config: kaggleYaml, env: {} }).laion.enabled).toBe(false);
    expect(resolveKaggleConfig({ config: kaggleYaml, env: { USE_LAION: "1" } }).laion.enabled).toBe(true);
    expect(
      resolveKaggleConfig({ config: kaggleYaml, env: { USE_LAION: "1" }, laion: false }).laion.enabled,
    ).toBe(false);
    expect(resolveKaggleConfig({ config: kaggleYaml, env: {}, laion: true }).laion.enabled).toBe(true);
  });

  test("with LAION the pipeline is fetch → download → train-vq → encode → train; without, train-vq → train", () => {
    const cfg = withModelConfig(loadAppConfig(kaggleYaml));
    expect(buildStages({ cfg }).map((s) => s.name)).toEqual(["train-vq", "train"]);
    const on = { ...cfg, laion: { ...cfg.laion, enabled: true } };
    expect(buildStages({ cfg: on }).map((s) => s.name)).toEqual([
      "fetch",
      "download",
      "train-vq",
      "encode",
      "train",
    ]);
    // the model reads the code shards; with encode.enabled false, the image shards
    expect(trainConfigFor({ cfg: on, laion: true }).training.laion_path).toBe("data/laion/vq-codes");
    const imagesOnly = { ...on, encode: { ...on.encode, enabled: false } };
    expect(buildStages({ cfg: imagesOnly }).map((s) => s.name)).not.toContain("encode");
    expect(trainConfigFor({ cfg: imagesOnly, laion: true }).training.laion_path).toBe(
      "data/laion/webdataset",
    );
  });

  test("train.text_only_prob (--text-only-prob) reaches the model config; null keeps the config file's", () => {
    const cfg = withModelConfig(loadAppConfig(kaggleYaml));
    const fromFile = trainConfigFor({ cfg, laion: false }).training.text_only_prob;
    const set = { ...cfg, train: { ...cfg.train, text_only_prob: 0.8 } };
    expect(trainConfigFor({ cfg: set, laion: false }).training.text_only_prob).toBe(0.8);
    expect(trainConfigFor({ cfg, laion: false }).training.text_only_prob).toBe(fromFile);
    expect(trainStage({ cfg: set, laion: true }).command()).toContain("--text-only-prob 0.8");
  });

  test("vq.threads / train.threads reach @laion/vq and the trainer, and their printed commands; null leaves the packages' default", () => {
    const cfg = withModelConfig(loadAppConfig(kaggleYaml));
    expect(cfg.vq.threads).toBeNull();
    expect(vqParamsFor({ cfg, laion: false }).threads).toBeUndefined();
    expect(vqStage({ cfg, laion: false }).command()).not.toContain("--threads");
    expect(trainStage({ cfg, laion: false }).command()).not.toContain("--threads");
    const set = { ...cfg, vq: { ...cfg.vq, threads: 3 }, train: { ...cfg.train, threads: 2 } };
    expect(vqParamsFor({ cfg: set, laion: false }).threads).toBe(3);
    expect(vqStage({ cfg: set, laion: false }).command()).toContain("--threads 3");
    expect(trainConfigFor({ cfg: set, laion: false }).training.threads).toBe(2);
    expect(trainStage({ cfg: set, laion: false }).command()).toContain("--threads 2");
    expect(() => parseAppConfig({ vq: { threads: 0 } }, "x.yaml")).toThrow(/x\.yaml: vq\.threads/);
  });
});

describe("runKaggle --dry-run", () => {
  test("prints the stage plan, the commands that run each stage alone, and the preflight; runs nothing", async () => {
    const lines: string[] = [];
    const result = await runKaggle({
      config: kaggleYaml,
      laion: true,
      env: {},
      overrides: (cfg) => ({
        ...cfg,
        laion: { ...cfg.laion, dir: path.join(tmp, "laion") },
        download: { ...cfg.download, output: path.join(tmp, "laion/webdataset") },
        vq: { ...cfg.vq, out: path.join(tmp, "vq.pt") },
        encode: { ...cfg.encode, output: path.join(tmp, "laion/vq-codes") },
        train: { ...cfg.train, output_dir: path.join(tmp, "out"), config: path.join(root, cfg.train.config) },
      }),
      dryRun: true,
      rerunCommand: "x",
      log: (l) => lines.push(l),
      preflight: async () => "PREFLIGHT",
    });
    expect(result).toBeNull();
    const text = lines.join("\n");
    expect(text).toContain("LAION on: laion/relaion2B-en-research-safe, up to 20000 rows");
    expect(text).toMatch(/1\. fetch\s+run/);
    expect(text).toMatch(/2\. download\s+run/);
    expect(text).toMatch(/3\. train-vq\s+run/);
    expect(text).toMatch(/4\. encode\s+run/);
    expect(text).toMatch(/5\. train\s+run/);
    expect(text).toMatch(
      /npx encode-vq-codes --vq-checkpoint \S*vq\.pt --input \S*laion\/webdataset --output \S*laion\/vq-codes/,
    );
    expect(text).toMatch(/npx train-multimodal .*--laion-path \S*laion\/vq-codes/);
    expect(text).toContain("npx fetch-laion-subset --hf-dataset laion/relaion2B-en-research-safe");
    expect(text).toContain("npx download-laion-images --input");
    expect(text).toContain("--image-size 256");
    expect(text).toMatch(/npx train-multimodal --config \S*configs\/train_2b_multimodal_hard\.yaml/);
    expect(text).toContain("PREFLIGHT");
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  test("a single stage that needs LAION says so when LAION is off", async () => {
    await expect(
      runKaggle({
        config: kaggleYaml,
        env: {},
        only: "download",
        dryRun: true,
        rerunCommand: "x",
        log: () => {},
      }),
    ).rejects.toThrow(
      /stage "download" is part of the pipeline only with LAION on: add --laion or set USE_LAION=1/,
    );
  });
});
