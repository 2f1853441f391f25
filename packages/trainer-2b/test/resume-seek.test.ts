import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fixturePath } from "@laion/test-servers";
import { expect, test } from "vitest";
import { findCheckpoint } from "../src/checkpoint.js";
import { trainMultimodal } from "../src/train.js";
import { cpuTf, fakeVq, tinyConfig } from "./helpers.js";

// Every source on, LAION read as the trainer reads it at scale (resampled shards + shuffle buffer): the
// checkpoint holds each reader's state() inside the mixer's, and a resume seeks there (no replay) and
// continues exactly as the uninterrupted run.
function config(out: string) {
  return tinyConfig(out, {
    laion_path: fixturePath("webdataset", "sample.tgz"),
    laion_prob: 0.4,
    text_only_prob: 0.5,
    shuffle_buffer: 16,
    batch_size: 2,
    max_steps: 4,
    eval_every: 100,
    eval_batches: 1,
    checkpoint_every: 2,
    warmup: 2,
    lr: 0.01,
    seed: 7,
    sample_max_tokens: 4,
  });
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "train-seek-"));
const quiet = () => {};

test("killed and resumed with LAION, text and local on: each reader's state is in the checkpoint and the run continues identically", async () => {
  const tf = await cpuTf();
  const straight = await trainMultimodal({ config: config(tmp()), tf, vq: fakeVq(), log: quiet });
  const a = straight.records.filter((r) => r.type === "train");

  const dir = tmp();
  await trainMultimodal({ config: config(dir), tf, vq: fakeVq(), log: quiet, stopAfter: 3 });
  const ck = findCheckpoint(dir)!;
  expect(path.basename(ck)).toBe("step-00000002");
  const state = JSON.parse(fs.readFileSync(path.join(ck, "state.json"), "utf8"));
  const outer = state.data.mixer.sources;
  // the LAION WebDataset's own position (seed, epoch, shard, sample), not a count to replay
  expect(outer.laion.nested).toMatchObject({ version: 1, seed: 7 });
  // the base mixture holds the text corpus' and the captioned images' reader states the same way
  expect(Object.keys(outer.base.nested.sources).sort()).toEqual(["local", "text"]);
  for (const s of Object.values(outer.base.nested.sources) as { consumed: number; nested?: unknown }[])
    if (s.consumed > 0) expect(s.nested).toBeDefined();

  const resumed = await trainMultimodal({ config: config(dir), tf, vq: fakeVq(), log: quiet, resume: true });
  const b = resumed.records.filter((r) => r.type === "train");
  expect(b.map((r) => r.step)).toEqual([1, 2, 3, 4]);
  for (let i = 0; i < 4; i++) {
    expect(b[i]!.loss).toBeCloseTo(a[i]!.loss, 4);
    expect(b[i]!.loss_by_source).toEqual(a[i]!.loss_by_source);
  }
  expect(
    Object.keys(a.at(-1)!.loss_by_source).length + Object.keys(a[0]!.loss_by_source).length,
  ).toBeGreaterThan(2);
}, 300_000);
