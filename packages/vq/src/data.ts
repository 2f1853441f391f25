import type { EvalSourceSpec } from "./eval-set.js";
import { type Augment, imageToFloat } from "./images.js";
import { hashString } from "./rng.js";

/** A sample as the @laion/shards readers yield it: a key and the image bytes under their extension. */
export interface ImageSample {
  __key__: string;
  jpg?: Uint8Array;
  jpeg?: Uint8Array;
  png?: Uint8Array;
  webp?: Uint8Array;
  [ext: string]: unknown;
}

const IMAGE_EXTS = ["jpg", "jpeg", "png", "webp"] as const;

/** The image bytes of a sample, or undefined when it has none. */
export function sampleImage(sample: ImageSample): Uint8Array | undefined {
  for (const ext of IMAGE_EXTS) {
    const v = sample[ext];
    if (v instanceof Uint8Array) return v;
  }
  return undefined;
}

/** Held-out split by key hash: stable across runs, epochs and shard orders. */
export function isHeldOut(key: string, percent: number): boolean {
  return percent > 0 && hashString(key) % 1000 < percent * 10;
}

export interface Batch {
  /** [n,S,S,3] in [0,1]. */
  images: Float32Array;
  n: number;
  keys: string[];
  /** Samples pulled from the source up to and including this batch's last one: where a resumed run skips to. */
  offset: number;
}

/**
 * Group samples into decoded, augmented batches. Images that fail to decode are reported through
 * `onSkip` and skipped (LAION shards contain a few); held-out keys never reach training.
 */
export async function* imageBatches(
  samples: AsyncIterable<ImageSample>,
  params: {
    batchSize: number;
    imageSize: number;
    augment: Omit<Augment, "rng"> & { rng: Augment["rng"] };
    holdOutPercent: number;
    onSkip?: (key: string, reason: string) => void;
    /**
     * Fast-forward over this many samples without decoding them (a resumed run replaying its epoch up
     * to the checkpoint's `offset`), drawing the augmentation numbers they would have drawn.
     */
    skip?: number;
  },
): AsyncGenerator<Batch> {
  const S = params.imageSize;
  let pending: { key: string; bytes: Uint8Array }[] = [];
  let offset = 0;
  const skip = params.skip ?? 0;
  // the one draw each sample takes from the epoch's stream (skipped samples take it too)
  const sampleSeed = () => params.augment.rng.int(2 ** 31);
  const decode = async (group: { key: string; bytes: Uint8Array }[]): Promise<Batch> => {
    // draw every random number up front, in sample order, so the augmentation is reproducible
    // even though the decodes run concurrently in sharp's thread pool
    const rngs = group.map(() => params.augment.rng.fork(sampleSeed()));
    const results = await Promise.all(
      group.map((s, i) =>
        imageToFloat(s.bytes, S, { ...params.augment, rng: rngs[i] as Augment["rng"] }).then(
          (px) => px,
          (err: Error) => {
            params.onSkip?.(s.key, err.message);
            return undefined;
          },
        ),
      ),
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
    return { images: images.subarray(0, n * S * S * 3), n, keys, offset };
  };
  for await (const sample of samples) {
    offset++;
    const key = String(sample.__key__);
    if (isHeldOut(key, params.holdOutPercent)) continue;
    const bytes = sampleImage(sample);
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

interface ShardsApi {
  LocalCaptionedImages(params: { captions: string; imageRoot: string }): AsyncIterable<ImageSample>;
  WebDataset(urls: string | string[], params?: Record<string, unknown>): AsyncIterable<ImageSample>;
}
interface MixerApi {
  mix<T>(
    sources: { name: string; weight: number; source: AsyncIterable<T> }[],
    params: { seed: number; stopWhen: "first_exhausted" | "all_exhausted" | "never" },
  ): AsyncIterable<{ source: string; item: T }>;
}

// Loaded lazily (through a variable, so the .d.ts build does not need their built types): training from
// in-memory samples never pays for the shard readers.
const importLazy = (specifier: string): Promise<unknown> => import(/* @vite-ignore */ specifier);

async function shardsApi(): Promise<ShardsApi> {
  const mod = (await importLazy("@laion/shards")) as Partial<ShardsApi>;
  if (typeof mod.LocalCaptionedImages !== "function" || typeof mod.WebDataset !== "function") {
    throw new Error("@laion/shards does not export LocalCaptionedImages/WebDataset (is it built?)");
  }
  return mod as ShardsApi;
}

async function mixerApi(): Promise<MixerApi> {
  const mod = (await importLazy("@laion/mixer")) as Partial<MixerApi>;
  if (typeof mod.mix !== "function") throw new Error("@laion/mixer does not export mix (is it built?)");
  return mod as MixerApi;
}

export interface DataParams {
  captions?: string;
  imageRoot?: string;
  laionTars?: string | string[];
  laionProb?: number;
  seed: number;
}

/** The user's captioned images, one pass. */
export async function localSource(params: DataParams): Promise<AsyncIterable<ImageSample>> {
  if (!params.captions) throw new Error("no --captions given");
  const shards = await shardsApi();
  return shards.LocalCaptionedImages({ captions: params.captions, imageRoot: params.imageRoot ?? "." });
}

/**
 * The training stream: local images (one pass per call, the caller loops epochs), or, with LAION tars,
 * an infinite mix in which each sample comes from LAION with probability `laionProb`.
 */
export async function trainingSource(
  params: DataParams & { epoch: number },
): Promise<AsyncIterable<ImageSample>> {
  if (!params.laionTars) return localSource(params);
  const shards = await shardsApi();
  const laion = shards.WebDataset(params.laionTars, {
    resample: true,
    shuffleBuffer: 256,
    seed: params.seed,
    epoch: params.epoch,
    handler: "warnAndContinue",
  });
  if (!params.captions) return laion;
  const p = params.laionProb ?? 0.5;
  const mixer = await mixerApi();
  const local = repeatForever(() => localSource(params));
  const mixed = mixer.mix<ImageSample>(
    [
      { name: "local", weight: 1 - p, source: local },
      { name: "laion", weight: p, source: laion },
    ],
    // both sides are infinite (local repeats, LAION resamples): --max-steps ends the run
    { seed: params.seed + params.epoch, stopWhen: "never" },
  );
  return (async function* () {
    for await (const { item } of mixed) yield item;
  })();
}

async function* repeatForever(make: () => Promise<AsyncIterable<ImageSample>>): AsyncGenerator<ImageSample> {
  for (;;) {
    let any = false;
    for await (const s of await make()) {
      any = true;
      yield s;
    }
    if (!any) throw new Error("the local image set is empty");
  }
}

/**
 * Where eval images come from: every source the run trains on, each read in a fixed order (LAION shards
 * without resampling), with its share of the eval set (`laionProb` for LAION).
 */
export function evalSources(params: DataParams): EvalSourceSpec[] {
  const sources: EvalSourceSpec[] = [];
  const p = params.captions ? (params.laionProb ?? 0.5) : 1;
  if (params.captions) sources.push({ name: "local", share: 1 - p, samples: () => localSource(params) });
  if (params.laionTars) {
    const tars = params.laionTars;
    sources.push({
      name: "laion",
      share: p,
      samples: async () => (await shardsApi()).WebDataset(tars, { handler: "warnAndContinue" }),
    });
  }
  if (sources.length === 0) throw new Error("no data: give --captions/--image-root and/or --laion-tars");
  return sources;
}
