import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect, test } from "vitest";
import { selectBackend, trainVQ } from "../src/index.js";
import { fixturePhotos, photoSamples, small } from "./helpers.js";

test("training steps hold no more tensors at step 12 than at step 4 (nothing leaks per step)", async () => {
  const { tf } = await selectBackend({ prefer: "wasm" });
  const photos = await fixturePhotos();
  const live: Record<number, number> = {};
  const r = await trainVQ({
    out: path.join(await mkdtemp(path.join(tmpdir(), "vq-memory-")), "vq.pt"),
    config: { ...small, restartAfter: 1 }, // dead-code restarts every step: their path is covered too
    samples: photoSamples(photos, 100),
    evalImages: [photos[0]?.bytes as Uint8Array],
    maxSteps: 12,
    evalEvery: 1000,
    batchSize: 4,
    seed: 2,
    onEvent: (e) => {
      if (e.type === "step") live[e.step] = tf.memory().numTensors;
    },
  });
  r.model.dispose();
  expect(live[12]).toBe(live[4]);
}, 60_000);
