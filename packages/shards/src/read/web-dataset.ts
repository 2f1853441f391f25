import type { S3Client } from "@aws-sdk/client-s3";
import type { Resumable } from "@laion/mixer";
import { decodeOptions, decodeSample } from "./decode.js";
import { ERROR_HANDLERS, type ErrorHandler, handleError, ShardError, toShardError } from "./errors.js";
import { groupSamples } from "./group-samples.js";
import { openShard } from "./open-shard.js";
import { createS3Client, type S3Options } from "./s3.js";
import type { DecodeOptions, RawSample, Sample } from "./sample-types.js";
import { createShardCache, type ShardCache } from "./shard-cache.js";
import { resolveShards } from "./shard-list.js";
import { type OrderKey, permutedBlocks, shardOrder, skipped } from "./shard-order.js";
import { type SplitOptions, splitSlot } from "./split.js";
import { DEFAULT_MAX_SHARD_BYTES, type MemberLimits, tarMembers } from "./tar-members.js";

export interface WebDatasetOptions extends MemberLimits {
  /** Shuffle the shard order (seeded by seed + epoch, identical on every rank so splits stay disjoint). */
  shuffleShards?: boolean;
  /**
   * Sample-level shuffle (0 or 1 = none): each shard's samples are cut into blocks of this many
   * consecutive samples and each block is permuted by a seeded generator. Memory is bounded by
   * one block. Unlike a streaming shuffle buffer, the order is a pure function of
   * (seed, epoch, reader, shard position, block), so `restore()` resumes it exactly; combine
   * with `shuffleShards` to vary which shards follow each other.
   */
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
  /**
   * Opt-in decoders; `true` turns on image (RGB), txt, json and cls. The sample type follows:
   * `decode: { txt: true }` types `s.txt` as string, `json: asSampleMeta` types `s.json` as SampleMeta.
   */
  decode?: DecodeOptions | boolean;
  /**
   * Extensions every sample must have (lower case, e.g. `["jpg", "txt"]`): a sample without one is an
   * error naming the shard, key and member, under `handler`; the sample type has them as present.
   */
  members?: readonly string[];
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
  /**
   * Keep a local copy of each http(s)/s3 shard in this folder: read once from the network, then from
   * disk on every later epoch, resample draw or run. Safe to share between readers and processes.
   */
  cacheDir?: string;
  /** Trim the cache to this many bytes, least recently used shards first (default: no limit). */
  cacheLimitBytes?: number;
}

/**
 * Where a WebDataset reader is: plain JSON, small whatever the dataset size. Saved by `state()`,
 * given back to `restore()` of a reader made with the same urls and options.
 */
export interface WebDatasetState {
  version: 1;
  seed: number;
  epoch: number;
  /** How many shards the url list resolved to (a resume with another list is an error); 0 before the first iteration. */
  shards: number;
  /** Position in this reader's shard order (after shuffleShards / split, or the resample draw count). */
  shard: number;
  /** Samples already handed out from the shard at that position, in the shuffled order. */
  sample: number;
}

/** A webdataset reader: iterable (each iteration starts from the beginning, or where `restore` put it) and resumable. */
export interface WebDatasetReader<T> extends AsyncIterable<T>, Resumable<WebDatasetState> {
  /** Where the latest iteration is: the next sample is the `sample`-th of the shard at position `shard`. */
  state(): WebDatasetState;
  /**
   * Makes the next iteration continue from a saved state: it opens only the shard the state is in
   * and reads on from the saved sample (no replay of what came before). Throws when the state
   * does not belong to this seed and epoch; a changed shard list is reported when iteration starts.
   */
  restore(state: WebDatasetState): void;
}

/**
 * Reads webdataset shards as an async iterable of samples, pulling one tar member at a time.
 *
 * ```ts
 * for await (const s of WebDataset("data/{00000..00127}.tar", { shuffleBuffer: 1000, seed: 1 })) {
 *   s.__key__; s.jpg; // Uint8Array | undefined (`members: ["jpg"]` makes it Uint8Array)
 * }
 * ```
 * The sample type follows the options: raw members are `Uint8Array`; `decode` types the members it
 * decodes (`txt` → string, `json` → JsonValue or a JsonDecoder's result, images → RgbImage, `cls` →
 * number); `members` marks the extensions every sample has (checked at run time).
 * Options are checked at once (a bad one throws here); shards are resolved when iteration
 * starts. The result can be iterated again (same order unless `epoch` changes).
 * Leaving the loop early (`break`) closes the open file, socket or process.
 * `state()` / `restore()` make it a `Resumable` source of @laion/mixer: a resumed mixture seeks
 * to the saved shard and sample instead of replaying.
 */
export function WebDataset<
  const D extends DecodeOptions | boolean | undefined = undefined,
  const R extends string = never,
>(
  urls: string | readonly string[],
  options?: WebDatasetOptions & { decode?: D; members?: readonly R[] },
): WebDatasetReader<Sample<D, R>>;
export function WebDataset(
  urls: string | readonly string[],
  options: WebDatasetOptions = {},
): WebDatasetReader<Sample<DecodeOptions>> {
  const config = validate(urls, options);
  const { seed, epoch } = config.key;
  let resolved: number | undefined;
  let progress: Progress = { shard: 0, sample: 0 };
  let resumeAt: WebDatasetState | undefined;
  return {
    state: () => ({ version: 1, seed, epoch, shards: resolved ?? resumeAt?.shards ?? 0, ...progress }),
    restore(state) {
      resumeAt = checkState(state, config.key);
      progress = { shard: resumeAt.shard, sample: resumeAt.sample };
    },
    [Symbol.asyncIterator]: () => {
      const start = resumeAt;
      resumeAt = undefined;
      progress = { shard: start?.shard ?? 0, sample: start?.sample ?? 0 };
      return readDataset(config, progress, (count) => {
        if (start && start.shards !== 0 && start.shards !== count) {
          throw new Error(
            `WebDataset: cannot resume: the saved state is for ${start.shards} shards, but ${JSON.stringify(urls)} resolves to ${count}`,
          );
        }
        resolved = count;
      });
    },
  };
}

/** Position of an iteration; the next sample is the `sample`-th of the shard at position `shard`. */
interface Progress {
  shard: number;
  sample: number;
}

function checkState(state: WebDatasetState, key: OrderKey): WebDatasetState {
  const counts = ["shards", "shard", "sample"] as const;
  if (typeof state !== "object" || state === null || state.version !== 1) {
    throw new Error(`WebDataset: cannot restore ${JSON.stringify(state)}: expected a state() with version 1`);
  }
  for (const field of counts) {
    if (!Number.isSafeInteger(state[field]) || state[field] < 0) {
      throw new Error(
        `WebDataset: cannot restore: state.${field} is ${JSON.stringify(state[field])}, not a count`,
      );
    }
  }
  if (state.seed !== key.seed || state.epoch !== key.epoch) {
    throw new Error(
      `WebDataset: cannot restore a state of seed ${state.seed}, epoch ${state.epoch} into a reader with seed ${key.seed}, epoch ${key.epoch}`,
    );
  }
  return { ...state };
}

interface Config {
  urls: string | readonly string[];
  options: WebDatasetOptions;
  key: OrderKey;
  handler: ErrorHandler;
  decode: DecodeOptions | undefined;
  members: readonly string[];
  s3Client: () => S3Client;
  cache: ShardCache | undefined;
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
  for (const name of ["maxMemberBytes", "maxShardBytes", "timeoutMs", "cacheLimitBytes"] as const) {
    const value = options[name];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1))
      throw new Error(`WebDataset: ${name} must be an integer ≥ 1, got ${value}`);
  }
  const members = options.members ?? [];
  if (
    !Array.isArray(members) ||
    members.some((m) => typeof m !== "string" || m === "" || m !== m.toLowerCase())
  ) {
    throw new Error(
      `WebDataset: members must be lower-case extensions such as ["jpg", "txt"] (members are grouped by lower-cased extension), got ${JSON.stringify(options.members)}`,
    );
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
  const cache =
    options.cacheDir === undefined
      ? undefined
      : createShardCache({
          dir: options.cacheDir,
          limitBytes: options.cacheLimitBytes,
          maxShardBytes: options.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES,
        });
  return {
    urls,
    options,
    key: { seed, epoch, slot },
    handler,
    cache,
    decode: decodeOptions(options.decode),
    members,
    s3Client,
  };
}

async function* readDataset(
  config: Config,
  progress: Progress,
  onResolved: (count: number) => void,
): AsyncGenerator<Sample<DecodeOptions>> {
  const shards = await resolveShards({ urls: config.urls, s3Client: config.s3Client });
  onResolved(shards.length);
  const samples = shardSamples(config, shards, progress);
  if (!config.decode && config.members.length === 0) {
    yield* samples;
    return;
  }
  for await (const sample of samples) {
    try {
      checkMembers(sample, config.members);
      yield config.decode ? await decodeSample(sample, config.decode) : sample;
    } catch (error) {
      const ext = (error as { ext?: string }).ext;
      const member = ext === undefined ? sample.__key__ : `${sample.__key__}.${ext}`;
      handleError(toShardError(error, sample.__url__, member), config.handler, config.options.onError);
    }
  }
}

/** Throws, naming the member, when the sample lacks one of the required extensions. */
function checkMembers(sample: RawSample, required: readonly string[]): void {
  for (const ext of required) {
    if (sample[ext] !== undefined) continue;
    const has = Object.keys(sample).filter((k) => !k.startsWith("__"));
    throw Object.assign(
      new Error(
        `sample has no .${ext} member (required by members: ${JSON.stringify(required)}; it has ${has.map((k) => `.${k}`).join(", ") || "none"})`,
      ),
      { ext },
    );
  }
}

/** Opens a shard, through the cache when there is one and the shard is remote. */
async function openSource(url: string, config: Config) {
  const { timeoutMs } = config.options;
  const open = () =>
    openShard(url, { s3Client: config.s3Client, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  if (!config.cache?.holds(url)) return open();
  return openShard(await config.cache.fetch(url, open));
}

/**
 * Reads this reader's shards from `progress` on, applying the error handler per shard and the
 * block shuffle within each. `progress` is advanced before each sample is handed out, so a
 * `state()` taken while the consumer holds a sample points just past it.
 */
async function* shardSamples(
  config: Config,
  shards: string[],
  progress: Progress,
): AsyncGenerator<RawSample> {
  const { handler, options, key } = config;
  const order = shardOrder(shards, key, options);
  if (order.length === 0) {
    throw new Error(
      `WebDataset: reader ${key.slot.index} of ${key.slot.count} (split ${JSON.stringify(options.split)}) gets no shards: there are only ${shards.length}`,
    );
  }
  const blockSize = options.shuffleBuffer ?? 0;
  // With resample and a handler that skips errors, an all-broken shard list would spin forever.
  const maxEmptyInARow = Math.max(10, 3 * shards.length);
  let emptyInARow = 0;
  for (let position = progress.shard; position < order.length; position++) {
    const url = order.at(position);
    const skip = position === progress.shard ? progress.sample : 0;
    progress.shard = position;
    progress.sample = skip;
    let produced = 0;
    let opened: Awaited<ReturnType<typeof openShard>> | undefined;
    try {
      opened = await openSource(url, config).catch((error: unknown) => {
        throw new ShardError({ url, message: `cannot open: ${(error as Error).message}`, cause: error });
      });
      const members = tarMembers({
        stream: opened.stream,
        url,
        gunzipMembers: options.gunzipMembers ?? true,
        // Samples held in a shuffle block get their own compact bytes, so they don't keep read chunks alive.
        copy: blockSize > 1,
        maxMemberBytes: options.maxMemberBytes,
        maxShardBytes: options.maxShardBytes,
        // An oversized member is one bad member, not a bad shard: the policy decides, the shard goes on.
        onSkip: (error) => handleError(error, handler, options.onError),
      });
      const grouped = groupSamples(members, url);
      // No wrapper on the plain path: one async generator layer less per sample.
      const ordered =
        blockSize > 1
          ? permutedBlocks(grouped, { key, position, blockSize, skip })
          : skip > 0
            ? skipped(grouped, skip)
            : grouped;
      for await (const sample of ordered) {
        produced++;
        progress.sample++;
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
  progress.shard = order.length;
  progress.sample = 0;
}
