import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test } from "vitest";
import { findCheckpoint } from "../src/checkpoint.js";
import { parseConfig } from "../src/config.js";
import { generate } from "../src/generate.js";
import { loadForGeneration } from "../src/load-model.js";
import { readMetrics } from "../src/report.js";
import { trainMultimodal } from "../src/train.js";
import { cpuTf, fakeVq, tinyConfig } from "./helpers.js";

function config(out: string, training: Record<string, unknown> = {}) {
  return tinyConfig(out, {
    batch_size: 2,
    grad_accum: 2,
    max_steps: 4,
    eval_every: 4,
    eval_batches: 1,
    checkpoint_every: 2,
    warmup: 2,
    lr: 0.01,
    text_only_prob: 0.5,
    seed: 3,
    sample_max_tokens: 6,
    ...training,
  });
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "train-"));
const quiet = () => {};

test("resume equivalence: 4 steps == 3 steps + kill + resume from step 2 + 2 steps (same losses, same data order)", async () => {
  const tf = await cpuTf();
  const straightDir = tmp();
  const straight = await trainMultimodal({ config: config(straightDir), tf, vq: fakeVq(), log: quiet });
  const a = straight.records.filter((r) => r.type === "train");
  expect(a.map((r) => r.step)).toEqual([1, 2, 3, 4]);
  // Both sources (text corpus, local captioned images) are in the batches.
  expect(Object.keys(a[0]!.loss_by_source).sort()).toEqual(["local", "text"]);

  const dir = tmp();
  await trainMultimodal({ config: config(dir), tf, vq: fakeVq(), log: quiet, stopAfter: 3 });
  // "kill -9" after step 3: the last complete checkpoint is step 2; step 3's metrics line is dropped on resume.
  expect(path.basename(findCheckpoint(dir)!)).toBe("step-00000002");
  const resumed = await trainMultimodal({ config: config(dir), tf, vq: fakeVq(), log: quiet, resume: true });
  const b = resumed.records.filter((r) => r.type === "train");
  expect(b.map((r) => r.step)).toEqual([1, 2, 3, 4]);
  for (let i = 0; i < 4; i++) {
    expect(b[i]!.loss).toBeCloseTo(a[i]!.loss, 4);
    expect(b[i]!.loss_by_source).toEqual(a[i]!.loss_by_source);
  }
  const onDisk = readMetrics(path.join(dir, "metrics.jsonl")).filter((r) => r.type === "train");
  expect(onDisk.map((r) => r.step)).toEqual([1, 2, 3, 4]);
  // Outputs: report with inline SVG + PNG data URIs, checkpoint files.
  const html = fs.readFileSync(path.join(dir, "report.html"), "utf8");
  expect(html).toContain("<svg");
  expect(html).toContain("data:image/png;base64,");
  const ck = findCheckpoint(dir)!;
  expect(fs.readdirSync(ck).sort()).toEqual(["model.safetensors", "optimizer.safetensors", "state.json"]);
  expect(fs.readdirSync(path.join(dir, "checkpoints")).filter((d) => d.startsWith(".tmp"))).toEqual([]);
}, 240_000);

test("image codes through the codebook on a grid: trains, generates both ways from the checkpoint, refuses to resume under other inputs", async () => {
  const tf = await cpuTf();
  const dir = tmp();
  const model = { image_embedding: "codebook", image_positions: "grid" };
  const cfg = tinyConfig(
    dir,
    { ...config(dir).training, max_steps: 2, eval_every: 2, checkpoint_every: 2 },
    {},
    model,
  );
  await trainMultimodal({ config: cfg, tf, vq: fakeVq(), log: quiet });
  const g = await loadForGeneration({ tf, checkpoint: dir, vq: fakeVq() });
  expect(g.model.cfg.image).toEqual({ offset: g.vocab.imageOffset, size: 16, codebookDim: 3, side: 2 });
  const img = await generate({ ...g, seed: 1 }, { kind: "caption2image", caption: "a red circle" });
  expect(img.kind === "caption2image" && img.codes.length).toBe(4);
  const cap = await generate(
    { ...g, greedy: true, maxNewTokens: 4 },
    { kind: "image2caption", image: Int32Array.of(1, 2, 3, 4) },
  );
  expect(cap.kind).toBe("image2caption");
  g.model.dispose();
  // the same output dir with a plain embedding table: the run manifest names the changed model section
  const plain = tinyConfig(dir, { ...cfg.training, max_steps: 3 });
  await expect(
    trainMultimodal({ config: plain, tf, vq: fakeVq(), log: quiet, resume: true }),
  ).rejects.toThrow(
    /was made with other settings:\n {2}the model section .*"image_embedding":"codebook".* → .*"image_embedding":"table"/,
  );
  // a VQ that cannot give its codebook is refused by name
  const { codebookVectors: _, ...opaque } = fakeVq();
  await expect(
    trainMultimodal({ config: tinyConfig(tmp(), cfg.training, {}, model), tf, vq: opaque, log: quiet }),
  ).rejects.toThrow(/image_embedding "codebook" needs a VQ that exposes its codebook/);
}, 120_000);

test("held-out eval records the per-source loss next to a unigram baseline", async () => {
  const tf = await cpuTf();
  const dir = tmp();
  const r = await trainMultimodal({ config: config(dir, { max_steps: 2 }), tf, vq: fakeVq(), log: quiet });
  const ev = r.records.find((x) => x.type === "eval")!;
  expect(Object.keys(ev.loss_by_source).sort()).toEqual(["local", "text"]);
  expect(Object.keys(ev.baseline_by_source!).sort()).toEqual(["local", "text"]);
});

test("dry run prints the plan and allocates nothing; images without a VQ are refused", async () => {
  const tf = await cpuTf();
  const dir = tmp();
  const lines: string[] = [];
  const r = await trainMultimodal({ config: config(dir), tf, dryRun: true, log: (m) => lines.push(m) });
  expect(r.plan.memory.params).toBeGreaterThan(0);
  expect(lines.join("\n")).toMatch(/mixture\s+laion 0\.0%, text 50\.0%, local 50\.0%/);
  expect(fs.existsSync(path.join(dir, "metrics.jsonl"))).toBe(false);
  await expect(trainMultimodal({ config: config(dir), tf, log: quiet })).rejects.toThrow(
    /no VQ checkpoint was given/,
  );
});

test("a configuration that does not fit the device is refused before allocating", async () => {
  const tf = await cpuTf();
  const cfg = parseConfig({
    ...config(tmp()),
    model: { preset: "2b" },
    training: { ...config(tmp()).training, device_memory_gb: 16, batch_size: 1 },
  });
  await expect(
    trainMultimodal({ config: cfg, tf, vq: fakeVq(), log: quiet, backendName: "tfjs-node-gpu" }),
  ).rejects.toThrow(/does not fit the device.*\n.*What fits/s);
});
