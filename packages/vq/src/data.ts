import { isResumable, mix, type Resumable } from "@laion/mixer";
import { imageOf, LocalCaptionedImages, WebDataset } from "@laion/shards";
import { augmentDecoded, DEFAULT_CROP_SCALE, DecodedCache, decodedSide } from "./decoded-images.js";
import { type Augment, imageToFloat } from "./images.js";
import { type ImageSample, trainingSide } from "./samples.js";

export interface Batch {
  /** [n,S,S,3] in [0,1]. */
  images: Float32Array;
  n: number;
  keys: string[];
  /** Samples pulled from the source up to and including this batch's last one: where a resumed run skips to. */
  offset: number;
  /** The source's state() just past this batch's last sample (Resumable sources), for a seeking resume. */
  sourceState?: unknown;
  /** The augmentation RNG right after this batch's draws. */
  augmentState: string;
}

/**
 * Group samples into decoded, augmented batches. Images that fail to decode are reported through
 * `onSkip` and skipped (LAION shards contain a few). The held-out keys are filtered out before, per
 * source (trainingSide).
 */
export async function* imageBatches(
  samples: AsyncIterable<ImageSample>,
  params: {
    batchSize: number;
    imageSize: number;
    augment: Omit<Augment, "rng"> & { rng: Augment["rng"] };
    onSkip?: (key: string, reason: string) => void;
    /**
     * Fast-forward over this many samples without decoding them (a resumed run replaying its epoch up
     * to the checkpoint's `offset`), drawing the augmentation numbers they would have drawn.
     */
    skip?: number;
    /**
     * Images decoded once and kept across epochs (a run passes the same cache to every epoch). Default: a
     * fresh one for this call, with the default budget.
     */
    decoded?: DecodedCache;
  },
): AsyncGenerator<Batch> {
  const S = params.imageSize;
  const cache =
    params.decoded ?? new DecodedCache(decodedSide(S, (params.augment.scale ?? DEFAULT_CROP_SCALE)[0]));
  let pending: { key: string; bytes: Uint8Array }[] = [];
  let offset = 0;
  const skip = params.skip ?? 0;
  // the one draw each sample takes from the epoch's stream (skipped samples take it too)
  const sampleSeed = () => params.augment.rng.int(2 ** 31);
  const decode = async (group: { key: string; bytes: Uint8Array }[]): Promise<Batch> => {
    // draw every random number up front, in sample order, so the augmentation is reproducible
    // even though the decodes run concurrently in sharp's thread pool
    const rngs = group.map(() => params.augment.rng.fork(sampleSeed()));
    const decoded = await Promise.all(
      group.map((s) =>
        cache.get(s.bytes).catch((err: Error) => {
          params.onSkip?.(s.key, err.message);
          return undefined;
        }),
      ),
    );
    const results = decoded.map(
      (d, i) => d && augmentDecoded(d, S, { ...params.augment, rng: rngs[i] as Augment["rng"] }),
    );
    const keys: string[] = [];
    const images = new Float32Array(group.length * S * S * 3);
    let n = 0;
    results.forEach((px, i) => {
      if (!px) return;
      images.set(px, n * S * S * 3);
      keys.push((group[i] as { key: string }).key);
      n++;
    });
    // taken before the next sample is pulled: this batch's end is where a resumed run restarts
    const sourceState = isResumable(samples) ? samples.state() : undefined;
    const augmentState = params.augment.rng.getState();
    return { images: images.subarray(0, n * S * S * 3), n, keys, offset, sourceState, augmentState };
  };
  for await (const sample of samples) {
    offset++;
    const key = String(sample.__key__);
    const bytes = imageOf(sample);
    if (!bytes) {
      if (offset > skip) params.onSkip?.(key, "no jpg/jpeg/png/webp member");
      continue;
    }
    if (offset <= skip) {
      // the draw decode() would have made, so the rest of the epoch is augmented as before
      sampleSeed();
      continue;
    }
    pending.push({ key, bytes });
    if (pending.length === params.batchSize) {
      const batch = await decode(pending);
      pending = [];
      if (batch.n > 0) yield batch;
    }
  }
  if (pending.length > 0) {
    const batch = await decode(pending);
    if (batch.n > 0) yield batch;
  }
}

/** Decode a list of image bytes (centre crops) into one [n,S,S,3] array. */
export async function decodeImages(list: Uint8Array[], imageSize: number): Promise<Float32Array> {
  const S = imageSize;
  const images = new Float32Array(list.length * S * S * 3);
  for (let i = 0; i < list.length; i++)
    images.set(await imageToFloat(list[i] as Uint8Array, S), i * S * S * 3);
  return images;
}

export interface DataParams {
  captions?: string;
  imageRoot?: string;
  laionTars?: string | string[];
  /** Resolved by trainVQ (DEFAULT_LAION_PROB when not given): no default below the entry point. */
  laionProb: number;
  seed: number;
}

/** The user's captioned images, one pass. */
export async function localSource(params: DataParams): Promise<AsyncIterable<ImageSample>> {
  if (!params.captions) throw new Error("no --captions given");
  return LocalCaptionedImages({ captions: params.captions, imageRoot: params.imageRoot ?? "." });
}

/**
 * The training stream: local images (one pass per call, the caller loops epochs), or, with LAION tars,
 * an infinite mix in which each sample comes from LAION with probability `laionProb`. Each source's
 * held-out keys (`heldOutFraction`) are left out before mixing.
 */
export async function trainingSource(
  params: DataParams & { epoch: number; heldOutFraction: number },
): Promise<AsyncIterable<ImageSample>> {
  const f = params.heldOutFraction;
  if (!params.laionTars) return trainingSide(await localSource(params), "local", f);
  const laion = trainingSide(
    WebDataset(params.laionTars, {
      resample: true,
      shuffleBuffer: 256,
      seed: params.seed,
      epoch: params.epoch,
      handler: "warnAndContinue",
    }),
    "laion",
    f,
  );
  if (!params.captions) return laion;
  const p = params.laionProb;
  const captions = params.captions;
  const mixed = mix(
    [
      // the local folder restarts at its end (a new pass); LAION resamples: --max-steps ends the run
      {
        name: "local",
        weight: 1 - p,
        source: () =>
          trainingSide(LocalCaptionedImages({ captions, imageRoot: params.imageRoot ?? "." }), "local", f),
        onExhausted: "restart",
      },
      { name: "laion", weight: p, source: laion },
    ],
    { seed: params.seed + params.epoch, stopWhen: "never" },
  );
  // the mixer's state holds both readers' states: a resume restores it and both seek
  const items: AsyncIterable<ImageSample> & Resumable = {
    async *[Symbol.asyncIterator]() {
      for await (const { item } of mixed) yield item;
    },
    state: () => mixed.state(),
    restore: (state) => mixed.restore(state as Parameters<typeof mixed.restore>[0]),
  };
  return items;
}
