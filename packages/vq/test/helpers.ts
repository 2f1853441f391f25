import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fixturePath } from "@laion/test-servers";
import {
  type TrainVQEvent,
  type TrainVQParams,
  type TrainVQResult,
  trainVQ,
  type VQConfig,
} from "../src/index.js";
import type { ImageSample } from "../src/samples.js";

/** The real photos in fixtures/images/originals as bytes. */
export async function fixturePhotos(): Promise<{ name: string; bytes: Uint8Array }[]> {
  const dir = fixturePath("images/originals");
  const names = (await readdir(dir)).filter((f) => f.endsWith(".jpg")).sort();
  return Promise.all(
    names.map(async (name) => ({ name, bytes: new Uint8Array(await readFile(path.join(dir, name))) })),
  );
}

/** An in-memory webdataset-like stream `{ __key__, jpg }` cycling over the photos `rounds` times. */
export function photoSamples(
  photos: { name: string; bytes: Uint8Array }[],
  rounds: number,
): () => AsyncIterable<ImageSample> {
  return async function* () {
    for (let r = 0; r < rounds; r++)
      for (const p of photos) yield { __key__: `r${r}/${p.name}`, jpg: p.bytes };
  };
}

/** A small architecture so real training steps take seconds; the demo preset is exercised by tools/bench/vq-quality.mjs. */
export const small: Partial<VQConfig> = {
  imageSize: 32,
  downsample: 8,
  channels: [16, 16, 32, 32],
  codebookSize: 32,
  codeDim: 8,
  restartAfter: 5,
};

/** Train as a killed run would: stop (and checkpoint) right after `step`, as Ctrl-C or a SIGTERM does. */
export async function trainUntilStep(params: TrainVQParams, step: number): Promise<TrainVQResult> {
  const stop = new AbortController();
  const result = await trainVQ({
    ...params,
    signal: stop.signal,
    onEvent: (e) => {
      params.onEvent?.(e);
      if (e.type === "step" && e.step === step) stop.abort();
    },
  });
  result.model.dispose();
  return result;
}

/**
 * A short run of the `small` config on the fixture photos (batches of 6, the first 2 photos as eval
 * images) into `dir/name`; its losses and start event. `onEvent` sees every event.
 */
export async function trainSmall(
  dir: string,
  name: string,
  params: Partial<TrainVQParams>,
  onEvent?: (e: TrainVQEvent) => void,
): Promise<{ losses: number[]; start: TrainVQEvent | undefined }> {
  const photos = await fixturePhotos();
  const events: TrainVQEvent[] = [];
  const r = await trainVQ({
    out: path.join(dir, name, "vq.safetensors"),
    config: small,
    samples: photoSamples(photos, 10),
    evalImages: photos.slice(0, 2).map((p) => p.bytes),
    batchSize: 6,
    ...params,
    onEvent: (e) => {
      events.push(e);
      onEvent?.(e);
    },
  });
  r.model.dispose();
  return { losses: r.losses, start: events.find((e) => e.type === "start") };
}
