import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { loadSafetensors, selectBackend, type TrainVQParams, trainVQ } from "../src/index.js";
import { optimPath } from "../src/train-vq.js";
import { fixturePhotos, photoSamples, small, trainUntilStep } from "./helpers.js";

let photos: Awaited<ReturnType<typeof fixturePhotos>>;
beforeAll(async () => {
  await selectBackend({ prefer: "wasm" });
  photos = await fixturePhotos();
});

/** A run over 3 epochs of the 8 photos (batch 3: epochs end mid-batch), with every source of randomness on. */
function runParams(out: string): TrainVQParams {
  return {
    out,
    config: small,
    samples: photoSamples(photos, 1),
    evalImages: photos.slice(0, 2).map((p) => p.bytes),
    epochs: 3,
    batchSize: 3,
    evalEvery: 100,
    lr: 3e-3,
    warmupSteps: 2,
    seed: 11,
    augment: { scale: [0.3, 1], flip: true, colorJitter: 0.1 },
  };
}

describe("--resume replays the data order", () => {
  test("stopped mid-epoch and resumed = the uninterrupted run, step for step", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "vq-resume-"));
    const straight = await trainVQ(runParams(path.join(dir, "straight", "vq.pt")));
    straight.model.dispose();

    const out = path.join(dir, "stopped", "vq.pt");
    // step 4 is mid-way through epoch 1 (3 batches an epoch after the k-means warm-up)
    const first = await trainUntilStep(runParams(out), 4);
    expect(first.steps).toBe(4);
    const data = JSON.parse((await loadSafetensors(optimPath(out))).metadata.data as string);
    expect(data.offset).toBeGreaterThan(0);

    const replays: number[] = [];
    const resumed = await trainVQ({
      ...runParams(out),
      lr: undefined, // the saved run's learning rate carries over
      resume: true,
      onEvent: (e) => e.type === "replay" && replays.push(e.samples),
    });
    resumed.model.dispose();
    expect(replays).toEqual([data.offset]);
    expect(resumed.steps).toBe(straight.steps);
    expect([...first.losses, ...resumed.losses]).toEqual(straight.losses);
    const a = await loadSafetensors(path.join(dir, "straight", "vq.pt"));
    const b = await loadSafetensors(out);
    for (const name of ["dec.out.w", "quant.codebook", "quant.ema_count"]) {
      expect(Array.from((b.tensors[name]?.data ?? []) as Float32Array), name).toEqual(
        Array.from((a.tensors[name]?.data ?? []) as Float32Array),
      );
    }
  }, 120_000);

  test("a checkpoint from before data positions were saved still resumes (re-seeded)", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "vq-resume-old-"));
    const out = path.join(dir, "vq.pt");
    await trainUntilStep(runParams(out), 4);
    const { encodeSafetensors } = await import("../src/index.js");
    const { writeFile } = await import("node:fs/promises");
    const optim = await loadSafetensors(optimPath(out));
    const { data: _, ...older } = optim.metadata;
    await writeFile(optimPath(out), encodeSafetensors(optim.tensors, older));
    const resumed = await trainVQ({ ...runParams(out), resume: true });
    resumed.model.dispose();
    expect(resumed.steps).toBeGreaterThan(4);
    expect(JSON.parse(await readFile(`${out}.json`, "utf8")).step).toBe(String(resumed.steps));
  }, 120_000);
});
