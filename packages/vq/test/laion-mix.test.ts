import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fixturePath } from "@laion/test-servers";
import { beforeAll, describe, expect, test } from "vitest";
import { loadSafetensors, selectBackend, type TrainVQParams, trainVQ } from "../src/index.js";
import { optimPath } from "../src/train-vq.js";
import { small, trainUntilStep } from "./helpers.js";

// The user's folder (14 photos, Sinhala captions) mixed with a real webdataset shard standing in for
// LAION: sample.tgz from the webdataset project, 90 grayscale 28×28 PNG digits keyed "10", "11", ….
const laionTars = fixturePath("webdataset/sample.tgz");
const isLaionKey = (key: string) => /^\d+$/.test(key);

function params(out: string): TrainVQParams {
  return {
    out,
    config: small,
    captions: fixturePath("explicit_media/captions.json"),
    imageRoot: fixturePath("explicit_media"),
    laionTars,
    laionProb: 0.5,
    maxSteps: 8,
    batchSize: 8,
    evalEvery: 8,
    evalCount: 16,
    lr: 3e-3,
    warmupSteps: 2,
    seed: 5,
  };
}

beforeAll(async () => {
  await selectBackend({ prefer: "wasm" });
});

describe("--captions + --laion-tars through @laion/shards and @laion/mixer", () => {
  let dir: string;
  let keys: string[][];
  let losses: number[];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "vq-laion-"));
    keys = [];
    const r = await trainVQ({
      ...params(path.join(dir, "straight", "vq.pt")),
      onEvent: (e) => e.type === "step" && keys.push(e.keys),
    });
    losses = r.losses;
    r.model.dispose();
  }, 120_000);

  test("each trained sample comes from LAION with probability --laion-prob", () => {
    const all = keys.flat();
    expect(all.length).toBe(64);
    const laion = all.filter(isLaionKey).length;
    // 64 draws at p = 0.5: 4 standard deviations either side
    expect(laion).toBeGreaterThanOrEqual(16);
    expect(laion).toBeLessThanOrEqual(48);
    expect(all.some((k) => k.startsWith("photos/"))).toBe(true);
  });

  test("the eval set holds images of both sources, reported in metrics.jsonl", async () => {
    const line = JSON.parse((await readFile(path.join(dir, "straight", "metrics.jsonl"), "utf8")).trim());
    expect(line.step).toBe(8);
    expect(line.evalSources.local).toBeGreaterThan(0);
    expect(line.evalSources.laion).toBeGreaterThan(0);
    expect(line.psnr).toBeGreaterThan(5);
  });

  test("killed mid-stream and resumed, the mixed stream continues where it stopped", async () => {
    const out = path.join(dir, "stopped", "vq.pt");
    const first = await trainUntilStep({ ...params(out), evalEvery: 3 }, 3);
    const resumedKeys: string[][] = [];
    // the position holds the mixed readers' own states (LAION's WebDataset, the folder's reader) ...
    const saved = JSON.parse((await loadSafetensors(optimPath(out))).metadata.data as string);
    expect(Object.keys(saved.source.sources).sort()).toEqual(["laion", "local"]);
    const replays: number[] = [];
    const resumed = await trainVQ({
      ...params(out),
      resume: true,
      onEvent: (e) => {
        if (e.type === "step") resumedKeys.push(e.keys);
        if (e.type === "replay") replays.push(e.samples);
      },
    });
    resumed.model.dispose();
    // ... so the resume restores them (seeks) instead of replaying the stream, and continues identically
    expect(replays).toEqual([]);
    expect(resumedKeys).toEqual(keys.slice(3));
    expect([...first.losses, ...resumed.losses]).toEqual(losses);
    const a = await loadSafetensors(path.join(dir, "straight", "vq.pt"));
    const b = await loadSafetensors(out);
    expect(Array.from((b.tensors["dec.out.w"]?.data ?? []) as Float32Array)).toEqual(
      Array.from((a.tensors["dec.out.w"]?.data ?? []) as Float32Array),
    );
  }, 120_000);
});
