import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fixturePath } from "@laion/test-servers";
import { encodeVqCodes, loadVQ, trainVQ } from "@laion/vq";
import { beforeAll, expect, test } from "vitest";
import { parseConfig } from "../src/config.js";
import type { ImageCoder } from "../src/data.js";
import { trainMultimodal } from "../src/train.js";
import { cpuTf } from "./helpers.js";

// LAION as code shards: webdataset's sample.tgz (90 real PNGs) encoded once by encode-vq-codes with a real
// (one-step) VQ, then mixed in as --laion-path: the trainer must take the stored codes, never the encoder.
const small = { imageSize: 16, downsample: 4 as const, channels: [8, 8, 8], codebookSize: 16, codeDim: 4 };
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "train-codes-"));
let dir: string;
let codes: string;

async function oneStepVq(out: string, seed: number): Promise<void> {
  const r = await trainVQ({
    out,
    config: small,
    captions: fixturePath("explicit_media/captions.json"),
    imageRoot: fixturePath("explicit_media"),
    maxSteps: 1,
    batchSize: 4,
    evalEvery: 1,
    evalCount: 4,
    seed,
  });
  r.model.dispose();
}

beforeAll(async () => {
  await cpuTf();
  dir = tmp();
  await oneStepVq(path.join(dir, "vq-a.pt"), 1);
  await oneStepVq(path.join(dir, "vq-b.pt"), 2);
  codes = path.join(dir, "codes");
  await encodeVqCodes({
    vqCheckpoint: path.join(dir, "vq-a.pt"),
    input: fixturePath("webdataset/sample.tgz"),
    output: codes,
  });
}, 180_000);

function config(out: string, vqCheckpoint: string) {
  return parseConfig({
    output_dir: out,
    model: { preset: "tiny", seq_len: 32, text_vocab: 320 },
    data: { corpus: [fixturePath("sinhala", "corpus.txt")], captions: null, held_out_fraction: 0.1 },
    training: {
      laion_path: path.join(codes, "sample.tar"),
      laion_prob: 0.5,
      text_only_prob: 1,
      vq_checkpoint: vqCheckpoint,
      batch_size: 2,
      max_steps: 2,
      eval_every: 2,
      eval_batches: 1,
      checkpoint_every: 2,
      shuffle_buffer: 4,
      seed: 3,
      sample_max_tokens: 4,
    },
  });
}

/** The real VQ, counting encoder calls. */
async function countingVq(file: string): Promise<ImageCoder & { encoded: number; dispose(): void }> {
  const vq = await loadVQ(file);
  const counted = Object.assign(Object.create(vq), { encoded: 0 });
  counted.encodeImageBytes = async (images: Uint8Array[]) => {
    counted.encoded += images.length;
    return vq.encodeImageBytes(images);
  };
  return counted;
}

test("code shards as --laion-path: LAION steps train on the stored codes, the encoder never runs", async () => {
  const tf = await cpuTf();
  const vq = await countingVq(path.join(dir, "vq-a.pt"));
  const r = await trainMultimodal({
    config: config(tmp(), path.join(dir, "vq-a.pt")),
    tf,
    vq,
    log: () => {},
  });
  const sources = new Set(
    r.records.filter((x) => x.type === "train").flatMap((x) => Object.keys(x.loss_by_source)),
  );
  expect(sources.has("laion")).toBe(true);
  expect(vq.encoded).toBe(0);
  vq.dispose();
}, 180_000);

test("code shards from another VQ stop the run naming both checkpoints", async () => {
  const tf = await cpuTf();
  const vq = await loadVQ(path.join(dir, "vq-b.pt"));
  await expect(
    trainMultimodal({ config: config(tmp(), path.join(dir, "vq-b.pt")), tf, vq, log: () => {} }),
  ).rejects.toThrow(
    /sample.tar: \S+ was encoded by VQ vq-a.pt \(sha256:[0-9a-f]{16}\) but --vq-checkpoint is .*vq-b.pt \(sha256:/,
  );
  vq.dispose();
}, 180_000);
