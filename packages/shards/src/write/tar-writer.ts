import { pipeline } from "node:stream/promises";
import { describeFsError } from "@laion/cli-kit";
import tar from "tar-stream";
import {
  explain,
  OutputError,
  type PendingObject,
  type ShardStorage,
  WRITE_BUFFER_BYTES,
} from "../download/storage.js";

/**
 * A sample to write: `__key__` plus members by extension. Bytes are written as they are,
 * strings as UTF-8, anything else (objects, numbers) as JSON.
 */
export interface WritableSample {
  __key__: string;
  [ext: string]: Uint8Array | string | number | boolean | object | null | undefined;
}

/** What a finished tar holds. */
export interface TarInfo {
  /** Object name in the storage, e.g. `00000.tar`. */
  name: string;
  samples: number;
  /** Size of the tar in bytes. */
  bytes: number;
}

export interface TarWriterParams {
  storage: ShardStorage;
  /** Object name of the tar, e.g. `00000.tar`. */
  name: string;
  /** Mode bits and owner of every member (default 0444 and "bigdata", as img2dataset's writer). */
  mode?: number;
  owner?: string;
}

const BLOCK = 512;
/** Bytes a member takes in a tar: its header block and its data padded to whole blocks. */
const memberBytes = (size: number) => BLOCK + Math.ceil(size / BLOCK) * BLOCK;

/** Encodes a member value as webdataset's default encoders do (bytes as is, text as UTF-8, the rest as JSON). */
export function encodeMember(value: unknown): Buffer {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === "string") return Buffer.from(value, "utf8");
  return Buffer.from(JSON.stringify(value), "utf8");
}

/**
 * Writes one webdataset tar (webdataset's TarWriter): each sample's members `{key}.{ext}` in
 * sorted extension order, so readers group them into one sample. The tar streams to a temporary
 * object and appears under its name only on `close()` (atomic rename locally, one PutObject on
 * S3): a killed writer leaves no half shard behind. `write()` waits for the destination
 * (backpressure) and fails with an OutputError naming the tar when the destination fails (disk full).
 */
export class TarWriter {
  readonly name: string;
  #samples = 0;
  #bytes = 0;
  #closed = false;
  // as large as the destination's buffer: a whole image fits, so a sample waits for the disk only when it lags
  readonly #pack = tar.pack({ highWaterMark: WRITE_BUFFER_BYTES });
  readonly #mtime = new Date();
  readonly #mode: number;
  readonly #owner: string;
  readonly #piped: Promise<void>;
  readonly #broken: Promise<never>;
  readonly #pending: PendingObject;
  readonly #storage: ShardStorage;

  private constructor(params: TarWriterParams, pending: PendingObject) {
    this.name = params.name;
    this.#storage = params.storage;
    this.#mode = params.mode ?? 0o444;
    this.#owner = params.owner ?? "bigdata";
    this.#pending = pending;
    this.#piped = pipeline(this.#pack, pending.stream);
    this.#piped.catch(() => {}); // surfaced by write() and close()
    // Late 'error' events (after pipeline has let go) must not crash the process: `#piped` carries the error.
    this.#pack.on("error", () => {});
    pending.stream.on("error", () => {});
    // A failing destination must fail the writes waiting on it, not leave them hanging.
    this.#broken = this.#piped.then(
      () => new Promise<never>(() => {}),
      (err: unknown) => {
        throw this.#asOutputError(err);
      },
    );
    this.#broken.catch(() => {});
  }

  /** Opens the temporary object of a new tar. */
  static async open(params: TarWriterParams): Promise<TarWriter> {
    return new TarWriter(params, await params.storage.create(params.name));
  }

  /** Samples and bytes written so far. */
  get samples(): number {
    return this.#samples;
  }
  get bytes(): number {
    return this.#bytes;
  }

  /** Appends one sample; members with an `undefined` value are left out. */
  async write(sample: WritableSample): Promise<void> {
    if (this.#closed) throw new Error(`TarWriter: ${this.name} is already closed`);
    const key = sample.__key__;
    // A reader cuts the key at the first dot of the basename: a dot there would split the sample.
    if (typeof key !== "string" || /(^|\/)[^/]*\.[^/]*$|(^|\/)$/.test(key)) {
      throw new Error(
        `TarWriter: ${this.name}: sample key ${JSON.stringify(key)} must be a non-empty name without a dot in its last path part`,
      );
    }
    const members = Object.keys(sample)
      .filter((ext) => ext !== "__key__" && !ext.startsWith("__") && sample[ext] !== undefined)
      .sort()
      .map((ext) => [ext, encodeMember(sample[ext])] as const);
    // the pack queues entries in order: hand it every member, then wait once (one promise per sample, not per member)
    const added = Promise.all(members.map(([ext, body]) => this.#entry(`${key}.${ext}`, body)));
    added.catch(() => {}); // when the destination broke first, `#broken` says why
    try {
      await Promise.race([added, this.#broken]);
    } catch (err) {
      throw this.#asOutputError(err);
    }
    for (const [, body] of members) this.#bytes += memberBytes(body.length);
    this.#samples++;
  }

  /** Finishes the tar and makes it appear under its name. */
  async close(): Promise<TarInfo> {
    if (!this.#closed) {
      this.#closed = true;
      this.#pack.finalize();
      await this.#piped.catch((err: unknown) => {
        throw this.#asOutputError(err);
      });
      await this.#pending.commit();
    }
    // Two zero blocks end a tar (tar-stream pads the archive no further).
    return { name: this.name, samples: this.#samples, bytes: this.#bytes + 2 * BLOCK };
  }

  /** Drops the tar: nothing appears under its name. */
  async abort(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#pack.destroy();
    await this.#pending.abort();
  }

  #entry(name: string, body: Buffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const sink = this.#pack.entry(
        {
          name,
          size: body.length,
          mode: this.#mode,
          mtime: this.#mtime,
          uname: this.#owner,
          gname: this.#owner,
        },
        body,
        (err) => (err ? reject(err) : resolve()),
      );
      // When the destination fails, pending entries are destroyed too: their error is `#broken`'s.
      sink.on("error", () => {});
    });
  }

  #asOutputError(err: unknown): OutputError {
    if (err instanceof OutputError) return err;
    // Stream writes carry no path; ENOSPC → "disk full writing 00003.tar in data/laion/webdataset (ENOSPC)".
    if ((err as NodeJS.ErrnoException).code) {
      return new OutputError(
        describeFsError(err, { action: "writing", file: `${this.#storage.location}/${this.name}` }),
      );
    }
    return new OutputError(`cannot write ${this.name} in ${this.#storage.location}: ${explain(err)}`);
  }
}
