import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { OutputBusyError, OutputChangedError } from "@laion/cli-kit";
import { HELD_OUT_SPLIT } from "@laion/mixer";
import { fixturePath } from "@laion/test-servers";
import { expect, test } from "vitest";
import { applyOverrides, parseConfig } from "../src/config.js";
import { missingInputs, trainStatus } from "../src/run-manifest.js";
import { trainMultimodal } from "../src/train.js";
import { cpuTf, fakeVq, tinyConfig } from "./helpers.js";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "train-manifest-"));
const quiet = () => {};

const config = (out: string) =>
  tinyConfig(out, {
    batch_size: 2,
    max_steps: 2,
    eval_every: 2,
    eval_batches: 1,
    checkpoint_every: 2,
    seed: 1,
  });

test("a finished run is complete; other settings are 'changed' and refused by name; --overwrite keeps .prev-1", async () => {
  const out = path.join(tmp(), "run");
  const cfg = config(out);
  expect(trainStatus(cfg).state).toBe("missing");
  const tf = await cpuTf();
  await trainMultimodal({ config: cfg, tf, backendName: "cpu", vq: fakeVq(), log: quiet });
  expect(trainStatus(cfg)).toMatchObject({ state: "complete" });
  // the split is recorded; a manifest from before it was (the same split) is still this run, another split is not
  const file = path.join(out, ".run-manifest.json");
  const recorded = JSON.parse(fs.readFileSync(file, "utf8"));
  expect(recorded.params.held_out_split).toBe(HELD_OUT_SPLIT);
  const { held_out_split: _s, ...before } = recorded.params;
  fs.writeFileSync(file, JSON.stringify({ ...recorded, params: before }));
  expect(trainStatus(cfg)).toMatchObject({ state: "complete" });
  fs.writeFileSync(
    file,
    JSON.stringify({ ...recorded, params: { ...before, held_out_split: "fnv-per-mille" } }),
  );
  expect(trainStatus(cfg)).toMatchObject({
    state: "changed",
    differences: [{ key: "held_out_split", before: "fnv-per-mille", after: HELD_OUT_SPLIT }],
  });
  fs.writeFileSync(file, JSON.stringify(recorded));
  // raising max_steps continues the same run
  expect(trainStatus(applyOverrides(cfg, { maxSteps: 4 })).state).toBe("partial");
  // the threads or devices a step is shared over are not what is learnt: not recorded, not a difference,
  // also against a manifest from before session 11 that recorded them
  expect(recorded.params.training).not.toHaveProperty("threads");
  expect(trainStatus(applyOverrides(cfg, { threads: 2 })).state).toBe("complete");
  expect(trainStatus(applyOverrides(cfg, { devices: 2 })).state).toBe("complete");
  // threads came before devices (1da5bea, 4da7f89): a manifest may record threads alone, or both
  for (const extra of [{ threads: 2 }, { threads: 2, devices: null }]) {
    const training = { ...recorded.params.training, ...extra };
    fs.writeFileSync(file, JSON.stringify({ ...recorded, params: { ...recorded.params, training } }));
    expect(trainStatus(applyOverrides(cfg, { threads: 1 })).state).toBe("complete");
  }
  expect(trainStatus(applyOverrides(cfg, { textOnlyProb: 0.9 })).state).toBe("changed");
  fs.writeFileSync(file, JSON.stringify(recorded));

  const other = applyOverrides(cfg, { textOnlyProb: 0.9 });
  expect(trainStatus(other)).toMatchObject({ state: "changed" });
  const err = await trainMultimodal({
    config: other,
    tf,
    backendName: "cpu",
    vq: fakeVq(),
    log: quiet,
  }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(OutputChangedError);
  expect((err as Error).message).toContain("text_only_prob");
  await trainMultimodal({ config: other, tf, backendName: "cpu", vq: fakeVq(), log: quiet, overwrite: true });
  expect(fs.existsSync(path.join(`${out}.prev-1`, "report.html"))).toBe(true);
  expect(trainStatus(other).state).toBe("complete");
}, 120_000);

test("a second trainer on a busy output dir is refused, naming the holder, before anything is loaded", async () => {
  const out = path.join(tmp(), "busy");
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(
    path.join(out, ".lock"),
    JSON.stringify({ pid: process.pid, host: os.hostname(), started_at: "2026-11-30T00:00:00Z" }),
  );
  const err = await trainMultimodal({ config: config(out), log: quiet }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(OutputBusyError);
  expect((err as Error).message).toContain(`pid ${process.pid}`);
});

test("missingInputs names each missing input by key", () => {
  const cfg = parseConfig({
    data: {
      corpus: ["nope/corpus.txt"],
      captions: "nope/captions.json",
      image_root: fixturePath("explicit_media"),
    },
    training: { vq_checkpoint: "nope/vq.pt", laion_path: "s3://bucket/shards" },
  });
  expect(missingInputs(cfg)).toEqual([
    "data.corpus: nope/corpus.txt (not found)",
    "data.captions: nope/captions.json (not found)",
    "training.vq_checkpoint: nope/vq.pt (not found)",
  ]);
  expect(missingInputs(cfg, ["training.vq_checkpoint"])).toHaveLength(2);
});
