import type { S3Client } from "@aws-sdk/client-s3";
import { openStorage, type ShardStorage } from "../download/storage.js";
import type { S3Options } from "../read/s3.js";
import { type TarInfo, TarWriter, type WritableSample } from "./tar-writer.js";

export interface ShardWriterParams extends S3Options {
  /** A local folder or `s3://bucket/prefix` (or a ready storage). */
  output: string | ShardStorage;
  /** Endpoint of an S3-compatible store for an `s3://` output. */
  s3Endpoint?: string;
  s3Client?: S3Client;
  /** Samples per shard at most (default 10,000). */
  maxCount?: number;
  /** A new shard is started once a shard reaches this many bytes (default 3 GB, webdataset's default). */
  maxSize?: number;
  /** Object name of shard `index` (default `00000.tar`, `00001.tar`, …, img2dataset's names). */
  shardName?: (index: number) => string;
  /** Index of the first shard (default 0): a worker writing its own range of shard numbers. */
  firstShard?: number;
  /** Called after each shard is complete and visible (e.g. to write a sidecar file or log progress). */
  onShard?: (info: TarInfo) => void | Promise<void>;
}

const DEFAULT_MAX_COUNT = 10_000;
const DEFAULT_MAX_SIZE = 3e9;

/** `00000.tar`, `00001.tar`, … */
export const defaultShardName = (index: number) => `${String(index).padStart(5, "0")}.tar`;

function checkLimit(name: string, value: number, min: number): number {
  if (!(Number.isSafeInteger(value) || value === Number.POSITIVE_INFINITY) || value < min) {
    throw new Error(`ShardWriter: ${name} must be an integer ≥ ${min}, got ${value}`);
  }
  return value;
}

/**
 * Writes samples into a numbered sequence of webdataset tars (webdataset's ShardWriter): a new
 * shard starts when the current one holds `maxCount` samples or `maxSize` bytes. Each shard is
 * written to a temporary object and appears complete or not at all (see TarWriter), locally or
 * on S3. `close()` finishes the last shard and returns what every shard holds; `abort()` drops
 * the unfinished one and keeps the finished ones.
 *
 * ```ts
 * const writer = new ShardWriter({ output: "out/codes", maxCount: 1000 });
 * await writer.write({ __key__: "000000001", txt: "a caption", json: { width: 256 }, "vq.npy": bytes });
 * const shards = await writer.close();
 * ```
 */
export class ShardWriter {
  readonly #storage: ShardStorage;
  readonly #maxCount: number;
  readonly #maxSize: number;
  readonly #shardName: (index: number) => string;
  readonly #onShard: ShardWriterParams["onShard"];
  readonly #done: TarInfo[] = [];
  #next: number;
  #current: TarWriter | undefined;
  #closed = false;
  #probed = false;

  constructor(params: ShardWriterParams) {
    this.#maxCount = checkLimit("maxCount", params.maxCount ?? DEFAULT_MAX_COUNT, 1);
    this.#maxSize = checkLimit("maxSize", params.maxSize ?? DEFAULT_MAX_SIZE, 1);
    this.#next = checkLimit("firstShard", params.firstShard ?? 0, 0);
    this.#shardName = params.shardName ?? defaultShardName;
    this.#onShard = params.onShard;
    this.#storage =
      typeof params.output === "string" ? openStorage({ ...params, output: params.output }) : params.output;
  }

  /** Where the shards go (folder or s3:// URL). */
  get location(): string {
    return this.#storage.location;
  }

  /** Appends a sample, starting a new shard first when the current one is full. */
  async write(sample: WritableSample): Promise<void> {
    if (this.#closed) throw new Error(`ShardWriter: writing to ${this.location} after close()`);
    let current = this.#current;
    if (current && (current.samples >= this.#maxCount || current.bytes >= this.#maxSize)) {
      await this.#finish(current);
      current = undefined;
    }
    if (!current) {
      if (!this.#probed) {
        // A clear "cannot write to <location>" before any work, rather than a failure at the first rename.
        await this.#storage.probe();
        this.#probed = true;
      }
      current = await TarWriter.open({ storage: this.#storage, name: this.#shardName(this.#next++) });
      this.#current = current;
    }
    await current.write(sample);
  }

  /** Finishes the last shard; returns every shard written, in order. */
  async close(): Promise<TarInfo[]> {
    if (!this.#closed) {
      this.#closed = true;
      if (this.#current) await this.#finish(this.#current);
    }
    return [...this.#done];
  }

  /** Drops the shard being written (it never appears); the finished ones stay. */
  async abort(): Promise<void> {
    this.#closed = true;
    const current = this.#current;
    this.#current = undefined;
    await current?.abort();
  }

  async #finish(writer: TarWriter): Promise<void> {
    this.#current = undefined;
    const info = await writer.close();
    this.#done.push(info);
    await this.#onShard?.(info);
  }
}
