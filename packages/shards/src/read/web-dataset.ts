import type { S3Client } from "@aws-sdk/client-s3";
import { createRng, type Rng, seedFrom, shuffle, shuffleInPlace } from "@laion/mixer";
import { type DecodeOptions, decodeOptions, decodeSample } from "./decode.js";
import { ERROR_HANDLERS, type ErrorHandler, handleError, ShardError, toShardError } from "./errors.js";
import { groupSamples, type RawSample } from "./group-samples.js";
import { openShard } from "./open-shard.js";
import { createS3Client, type S3Options } from "./s3.js";
import { resolveShards } from "./shard-list.js";
import { type SplitOptions, splitSlot, takeSplit } from "./split.js";
import { type MemberLimits, tarMembers } from "./tar-members.js";

/** A sample after optional decoding: raw members are Uint8Array, decoded ones string/number/object/RgbImage. */
export interface Sample {
  __key__: string;
  __url__: string;
  [ext: string]: unknown;
}

export interface WebDatasetOptions extends MemberLimits {
  /** Shuffle the shard order (seeded by seed + epoch, identical on every rank so splits stay disjoint). */
  shuffleShards?: boolean;
  /** Sample-level shuffle buffer size (0 or 1 = no shuffle). Memory is bounded by this many samples. */
  shuffleBuffer?: number;
  /** Draw shards forever, with replacement (an infinite stream); seeded by seed, epoch, rank and worker. */
  resample?: boolean;
  /** Take a disjoint part of the shards: `{ rank, worldSize }` and/or `{ workerId, numWorkers }`. */
  split?: SplitOptions;
  /** Seed of every shuffle (default 0). */
  seed?: number;
  /** Epoch number (default 0): same seed + epoch → same order, another epoch → another order. */
  epoch?: number;
  /** Policy for unreachable shards, truncated tars, bad gzip, duplicate members, undecodable data (default "raise"). */
  handler?: ErrorHandler;
  /** Called with each error that `warnAndContinue` / `ignore` skip (instead of the console warning). */
  onError?: (error: ShardError) => void;
  /** Opt-in decoders; `true` turns on image (RGB), txt, json and cls. */
  decode?: DecodeOptions | boolean;
  /** Decompress `x.ext.gz` members and store them as `ext` (default true). */
  gunzipMembers?: boolean;
  /** Endpoint of an S3-compatible store for `s3://` URLs (default: $AWS_ENDPOINT_URL_S3 / $AWS_ENDPOINT_URL). */
  s3Endpoint?: string;
  /** Region and credentials for `s3://` URLs (default: the AWS environment variables). */
  s3?: S3Options;
  /** A ready S3 client (overrides s3Endpoint and s3). */
  s3Client?: S3Client;
  /**
   * For `http(s)://` shards: longest wait for the response headers, and for each body chunk the
   * reader asks for (ms, default 30000). A server that stalls becomes a ShardError.
   */
  timeoutMs?: number;
}

// Tags that keep the shard, sample and resample streams independent for the same seed.
const SHARD_STREAM = 1;
const SAMPLE_STREAM = 2;
const RESAMPLE_STREAM = 3;

/**
 * Reads webdataset shards as an async iterable of samples, pulling one tar member at a time.
 *
 * ```ts
 * for await (const s of WebDataset("data/{00000..00127}.tar", { shuffleBuffer: 1000, seed: 1 })) {
 *   s.__key__; s.jpg; // Uint8Array
 * }
 * ```
 * Options are checked at once (a bad one throws here); shards are resolved when iteration
 * starts. The result can be iterated again (same order unless `epoch` changes).
 * Leaving the loop early (`break`) closes the open file, socket or process.
 */
export function WebDataset(
  urls: string | readonly string[],
  options?: WebDatasetOptions & { decode?: false | undefined },
): AsyncIterable<RawSample>;
export function WebDataset(
  urls: string | readonly string[],
  options?: WebDatasetOptions,
): AsyncIterable<Sample>;
export function WebDataset(
  urls: string | readonly string[],
  options: WebDatasetOptions = {},
): AsyncIterable<Sample> {
  const config = validate(urls, options);
  return { [Symbol.asyncIterator]: () => readDataset(config) };
}

interface Config {
  urls: string | readonly string[];
  options: WebDatasetOptions;
  seed: number;
  epoch: number;
  handler: ErrorHandler;
  slot: { index: number; count: number };
  decode: DecodeOptions | undefined;
  s3Client: () => S3Client;
}

function validate(urls: string | readonly string[], options: WebDatasetOptions): Config {
  if (typeof urls !== "string" && !Array.isArray(urls))
    throw new Error("WebDataset: urls must be a string or an array of strings");
  if ((typeof urls === "string" ? [urls] : urls).length === 0)
    throw new Error("WebDataset: no shard URLs given");
  const handler = options.handler ?? "raise";
  if (!ERROR_HANDLERS.includes(handler)) {
    throw new Error(
      `WebDataset: handler must be one of ${ERROR_HANDLERS.join(", ")}, got ${JSON.stringify(handler)}`,
    );
  }
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new Error(`WebDataset: seed must be an integer, got ${seed}`);
  const epoch = options.epoch ?? 0;
  if (!Number.isSafeInteger(epoch) || epoch < 0)
    throw new Error(`WebDataset: epoch must be an integer ≥ 0, got ${epoch}`);
  const buffer = options.shuffleBuffer ?? 0;
  if (!Number.isSafeInteger(buffer) || buffer < 0) {
    throw new Error(`WebDataset: shuffleBuffer must be an integer ≥ 0, got ${buffer}`);
  }
  for (const name of ["maxMemberBytes", "maxShardBytes", "timeoutMs"] as const) {
    const value = options[name];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1))
      throw new Error(`WebDataset: ${name} must be an integer ≥ 1, got ${value}`);
  }
  const slot = splitSlot(options.split);
  let client: S3Client | undefined = options.s3Client;
  const s3Client = () => {
    client ??= createS3Client({
      ...options.s3,
      ...(options.s3Endpoint ? { endpoint: options.s3Endpoint } : {}),
    });
    return client;
  };
  return { urls, options, seed, epoch, handler, slot, decode: decodeOptions(options.decode), s3Client };
}

async function* readDataset(config: Config): AsyncGenerator<Sample> {
  const { options, seed, epoch, slot } = config;
  const shards = await resolveShards({ urls: config.urls, s3Client: config.s3Client });
  const order = options.resample
    ? resampled(shards, createRng(seedFrom(seed, epoch, RESAMPLE_STREAM, slot.index)))
    : ownShards(shards, config);
  let samples: AsyncIterable<Sample> = shardSamples(order, config, shards.length);
  if ((options.shuffleBuffer ?? 0) > 1) {
    samples = shuffle<Sample>(
      options.shuffleBuffer ?? 0,
      seedFrom(seed, epoch, SAMPLE_STREAM, slot.index),
    )(samples);
  }
  if (!config.decode) {
    yield* samples;
    return;
  }
  for await (const sample of samples) {
    try {
      yield await decodeSample(sample, config.decode);
    } catch (error) {
      const ext = (error as { ext?: string }).ext;
      const member = ext === undefined ? sample.__key__ : `${sample.__key__}.${ext}`;
      handleError(toShardError(error, sample.__url__, member), config.handler, options.onError);
    }
  }
}

function ownShards(shards: string[], config: Config): string[] {
  const { options, seed, epoch, slot } = config;
  const order = options.shuffleShards
    ? shuffleInPlace(shards.slice(), createRng(seedFrom(seed, epoch, SHARD_STREAM)))
    : shards;
  const mine = takeSplit(order, slot);
  if (mine.length === 0) {
    throw new Error(
      `WebDataset: reader ${slot.index} of ${slot.count} (split ${JSON.stringify(options.split)}) gets no shards: there are only ${shards.length}`,
    );
  }
  return mine;
}

function* resampled(shards: readonly string[], rng: Rng): Generator<string> {
  for (;;) yield shards[rng.nextInt(shards.length)] as string;
}

/** Reads the shards in order, applying the error handler per shard. */
async function* shardSamples(
  order: Iterable<string>,
  config: Config,
  distinct: number,
): AsyncGenerator<Sample> {
  const { handler, options } = config;
  // With resample and a handler that skips errors, an all-broken shard list would spin forever.
  const maxEmptyInARow = Math.max(10, 3 * distinct);
  let emptyInARow = 0;
  for (const url of order) {
    let produced = 0;
    let opened: Awaited<ReturnType<typeof openShard>> | undefined;
    try {
      opened = await openShard(url, {
        s3Client: config.s3Client,
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      }).catch((error: unknown) => {
        throw new ShardError({ url, message: `cannot open: ${(error as Error).message}`, cause: error });
      });
      const members = tarMembers({
        stream: opened.stream,
        url,
        gunzipMembers: options.gunzipMembers ?? true,
        // Samples held in a shuffle buffer get their own compact bytes, so they don't keep read chunks alive.
        copy: (options.shuffleBuffer ?? 0) > 1,
        maxMemberBytes: options.maxMemberBytes,
        maxShardBytes: options.maxShardBytes,
        // An oversized member is one bad member, not a bad shard: the policy decides, the shard goes on.
        onSkip: (error) => handleError(error, handler, options.onError),
      });
      for await (const sample of groupSamples(members, url)) {
        produced++;
        yield sample;
      }
      await opened.finished.catch((error: unknown) => {
        throw new ShardError({ url, message: (error as Error).message, cause: error });
      });
    } catch (error) {
      handleError(toShardError(error, url), handler, options.onError);
    } finally {
      opened?.close();
    }
    emptyInARow = produced > 0 ? 0 : emptyInARow + 1;
    if (options.resample && emptyInARow >= maxEmptyInARow) {
      throw new Error(
        `WebDataset: ${emptyInARow} shards in a row gave no samples while resampling; giving up`,
      );
    }
  }
}
