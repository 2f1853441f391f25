import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { OutputChangedError } from "@laion/cli-kit";
import { fixturePath } from "@laion/test-servers";
import sharp from "sharp";
import { beforeAll, describe, expect, test } from "vitest";
import {
  loadSafetensors,
  loadVQ,
  selectBackend,
  type TrainVQEvent,
  type TrainVQResult,
  trainVQ,
  vqStatus,
} from "../src/index.js";
import { small } from "./helpers.js";

// The app's local-only run (no LAION) on the 14-image fixture folder: a folder this small must still
// train (k-means warm-up across epochs) and be evaluated on more than the one image it holds out.
const captions = fixturePath("explicit_media/captions.json");
const imageRoot = fixturePath("explicit_media");

let dir: string;
let out: string;
let result: TrainVQResult;
const events: TrainVQEvent[] = [];

beforeAll(async () => {
  await selectBackend({ prefer: "wasm" });
  dir = await mkdtemp(path.join(tmpdir(), "vq-local-"));
  out = path.join(dir, "visual_vq.pt");
  // 14 images × 16 tokens = 224 vectors per pass < 2 × 128 codes: one epoch is too small for the
  // k-means warm-up, as 14 × 64 < 2 × 512 was in the demo
  result = await trainVQ({
    out,
    config: { ...small, codebookSize: 128 },
    captions,
    imageRoot,
    maxSteps: 30,
    batchSize: 16,
    evalEvery: 15,
    lr: 3e-3,
    warmupSteps: 2,
    seed: 1,
    onEvent: (e) => events.push(e),
  });
}, 120_000);

describe("trainVQ on a small local folder without LAION", () => {
  test("repeats the 14 images until --max-steps, lowers the loss and writes a loadable checkpoint", async () => {
    expect(result.steps).toBe(30);
    expect(events.at(-1)).toMatchObject({ type: "done", step: 30, reason: "max-steps" });
    const kmeans = events.find((e) => e.type === "kmeans");
    expect(kmeans).toBeDefined();
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(result.losses.slice(-4))).toBeLessThan(0.8 * mean(result.losses.slice(0, 4)));
    expect((await loadSafetensors(out)).metadata.step).toBe("30");
    const vq = await loadVQ(out);
    const bytes = new Uint8Array(await readFile(path.join(imageRoot, "photos/kitten.jpg")));
    const [codes] = await vq.encodeImageBytes([bytes]);
    expect(codes?.length).toBe(16);
    vq.dispose();
  });

  test("--epochs 1 with a batch larger than the folder still trains one step", async () => {
    const one = await trainVQ({
      out: path.join(dir, "one-epoch", "visual_vq.pt"),
      config: { ...small, codebookSize: 128 },
      captions,
      imageRoot,
      epochs: 1,
      batchSize: 16,
      evalCount: 8,
      seed: 1,
    });
    expect(one.steps).toBe(1);
    expect((await loadSafetensors(path.join(dir, "one-epoch", "visual_vq.pt"))).metadata.step).toBe("1");
    one.model.dispose();
  });

  test("evaluates on a fixed set of ≥ 8 images (crops of all images when too few are held out) and shows 8", async () => {
    const start = events.find((e) => e.type === "start");
    expect(start).toMatchObject({ evalImages: 32, heldOut: false, evalDistinct: 14, evalCrops: 18 });
    const evals = events.filter((e) => e.type === "eval");
    expect(evals.map((e) => e.step)).toEqual([15, 30]);
    const lines = (await readFile(result.metricsPath, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    for (const l of lines) {
      expect(l.evalImages).toBeGreaterThanOrEqual(8);
      expect(l.evalSources).toEqual({ local: 14 });
    }
    const grid = await sharp(lines[1].grid).metadata();
    expect(grid.width).toBe(8 * 32 + 9 * 2); // the grid shows 8 of the 32
  });

  test("a checkpoint trained under session 4's held-out split is refused on resume, naming the split", async () => {
    const params = { out, config: { ...small, codebookSize: 128 }, captions, imageRoot, seed: 1 };
    expect(vqStatus({ ...params, maxSteps: 30 })).toMatchObject({ state: "complete" });
    const file = `${out}.manifest.json`;
    const now = await readFile(file, "utf8");
    // what session 4 recorded: the FNV-1a per mille split, as a percent, no split name
    const { held_out_fraction: _f, held_out_split: _s, ...rest } = JSON.parse(now).params;
    await writeFile(file, JSON.stringify({ ...JSON.parse(now), params: { ...rest, hold_out_percent: 5 } }));
    try {
      const status = vqStatus({ ...params, maxSteps: 31 });
      expect(status.state).toBe("changed");
      expect(status.differences?.map((d) => d.key)).toEqual(
        expect.arrayContaining(["hold_out_percent", "held_out_split"]),
      );
      const err = await trainVQ({ ...params, maxSteps: 31, resume: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OutputChangedError);
      expect((err as Error).message).toMatch(/held-out split \(the eval set moved/);
      expect((await loadSafetensors(out)).metadata.step).toBe("30"); // nothing was overwritten
    } finally {
      await writeFile(file, now);
    }
  });
});
