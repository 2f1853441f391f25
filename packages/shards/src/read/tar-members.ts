import { type Readable, Transform } from "node:stream";
import { createGunzip, gunzipSync } from "node:zlib";
import tar from "tar-stream";
import { ShardError } from "./errors.js";
import { MemberQueue, type TarMember } from "./tar-member-queue.js";

export type { TarMember };

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/** Largest member kept in memory, before or after gunzipping (256 MiB). */
export const DEFAULT_MAX_MEMBER_BYTES = 256 << 20;
/** Most tar bytes read from one shard, after gunzipping a `.tar.gz` (16 GiB). */
export const DEFAULT_MAX_SHARD_BYTES = 16 * 2 ** 30;

/** Byte caps that keep a hostile shard from taking memory or time beyond what the options allow. */
export interface MemberLimits {
  /**
   * A member larger than this (as stored, or after gunzipping an `x.gz` member) is not buffered:
   * it is skipped with a ShardError naming it. Default 256 MiB.
   */
  maxMemberBytes?: number;
  /**
   * The shard stops with a ShardError past this many tar bytes (after gunzip for `.tar.gz`): a small
   * gzip bomb or an endless HTTP body cannot keep the reader busy forever. Default 16 GiB.
   */
  maxShardBytes?: number;
}

/** True when the URL's extension says gzip (.tgz, .tar.gz, .gz). */
export function hasGzipExtension(url: string): boolean {
  return /\.(tgz|gz)$/i.test(url.replace(/[?#].*$/, ""));
}

/**
 * Streams the regular files of a tar (or gzipped tar) byte stream. Parsing runs at most
 * `readAhead` members (and 16 MiB) ahead of the consumer, then waits: memory stays bounded
 * and the source is read only as fast as members are taken.
 * Gzip is detected from the URL's extension or from the magic bytes. Directories, links and
 * other non-regular entries are skipped. With `gunzipMembers`, `x.txt.gz` members are
 * decompressed and renamed `x.txt`. Every error is a ShardError naming `url` and the member.
 */
export async function* tarMembers(
  params: {
    stream: Readable;
    url: string;
    gunzipMembers?: boolean;
    /** Members parsed ahead of the consumer (default 16, and at most 16 MiB of them). */
    readAhead?: number;
    /**
     * Copy member bytes into their own buffers (default false). Without it a member that lies in
     * one read chunk is a view into that chunk (up to 1 MiB for local files): no copy, but a member
     * kept for long keeps its whole chunk alive. Copy when samples are held in bulk (shuffle buffers).
     */
    copy?: boolean;
    /**
     * Called (from the consumer's side, so it may throw) for a member skipped for being over
     * `maxMemberBytes`; without it such a member ends the shard with that error.
     */
    onSkip?: (error: ShardError) => void;
  } & MemberLimits,
): AsyncGenerator<TarMember> {
  const { stream, url } = params;
  const maxMember = checkLimit("maxMemberBytes", params.maxMemberBytes ?? DEFAULT_MAX_MEMBER_BYTES);
  const maxShard = checkLimit("maxShardBytes", params.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES);
  const gzipped = await isGzipped(stream, url);
  const extract = tar.extract();
  const queue = new MemberQueue({
    url,
    extract,
    maxAhead: params.readAhead ?? 16,
    maxMember,
    copy: params.copy ?? false,
  });
  const pipes = pipeIntoExtract(stream, extract, { gzipped, maxShard, fail: queue.fail });
  try {
    for (let next = await queue.next(); next !== null; next = await queue.next()) {
      const taken = next instanceof ShardError ? next : unpacked(next, url, params.gunzipMembers, maxMember);
      if (!(taken instanceof ShardError)) yield taken;
      else if (params.onSkip) params.onSkip(taken);
      else throw taken;
    }
  } finally {
    stream.unpipe();
    stream.destroy();
    for (const pipe of pipes) pipe.destroy();
    extract.destroy();
  }
}

/** Gzip from the URL's extension or from the magic bytes (peeked, then put back). */
async function isGzipped(stream: Readable, url: string): Promise<boolean> {
  const head = await peek(stream, 2).catch((error: Error) => {
    throw new ShardError({ url, message: error.message, cause: error });
  });
  return hasGzipExtension(url) || (head.length >= 2 && head[0] === GZIP_MAGIC_0 && head[1] === GZIP_MAGIC_1);
}

/**
 * source → (gunzip) → byte counter → tar parser; every stage's error ends the shard through `fail`.
 * Returns the stages in between, for the caller to destroy.
 */
function pipeIntoExtract(
  stream: Readable,
  extract: ReturnType<typeof tar.extract>,
  o: { gzipped: boolean; maxShard: number; fail: (message: string, cause: unknown) => void },
): Transform[] {
  stream.on("error", (error) => o.fail(`read failed: ${error.message}`, error));
  const gunzip = o.gzipped ? createGunzip() : undefined;
  const counter = byteCounter(o.maxShard, (read) =>
    o.fail(
      `shard is over max-shard-bytes (${o.maxShard} tar bytes${o.gzipped ? " after gunzip" : ""}, read ${read})`,
      undefined,
    ),
  );
  counter.on("error", () => {}); // destroyed with `fail`'s error, reported there
  if (gunzip) {
    gunzip.on("error", (error) => o.fail(`bad gzip data: ${error.message}`, error));
    stream
      .pipe(gunzip)
      .pipe(counter)
      .pipe(extract as unknown as NodeJS.WritableStream);
    return [gunzip, counter];
  }
  stream.pipe(counter).pipe(extract as unknown as NodeJS.WritableStream);
  return [counter];
}

function checkLimit(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`tarMembers: ${name} must be an integer ≥ 1, got ${value}`);
  return value;
}

/** A pass-through that calls `over` (once) when more than `max` bytes went through it. */
function byteCounter(max: number, over: (read: number) => void): Transform {
  let read = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      read += chunk.length;
      if (read > max) {
        over(read);
        callback();
      } else callback(null, chunk);
    },
  });
}

/** The member as the reader yields it: `x.gz` gunzipped (under the member cap) and renamed `x`. */
function unpacked(
  next: TarMember,
  url: string,
  gunzipMembers: boolean | undefined,
  maxMember: number,
): TarMember | ShardError {
  if (!gunzipMembers || !/\.gz$/i.test(next.name)) return next;
  const data = gunzipMember(next.data, url, next.name, maxMember);
  return data instanceof ShardError ? data : { name: next.name.slice(0, -3), data };
}

/** Gunzips a member, stopping at `maxBytes` of output: a 1 MB member of zeros may claim 1 GiB. */
function gunzipMember(
  data: Uint8Array,
  url: string,
  member: string,
  maxBytes: number,
): Uint8Array | ShardError {
  // gzip's trailer states the inflated size (mod 2^32): a member that admits to being too large is refused
  // before inflating anything; one that lies is still stopped by maxOutputLength.
  const stated =
    data.length >= 18
      ? Buffer.from(data.buffer, data.byteOffset, data.length).readUInt32LE(data.length - 4)
      : 0;
  if (stated > maxBytes)
    return new ShardError({
      url,
      member,
      message: `gunzipped member is over max-member-bytes (${maxBytes}; its gzip trailer says ${stated}); skipped`,
    });
  try {
    return gunzipSync(data, { maxOutputLength: maxBytes });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE")
      return new ShardError({
        url,
        member,
        message: `gunzipped member is over max-member-bytes (${maxBytes}); skipped`,
        cause: error,
      });
    return new ShardError({
      url,
      member,
      message: `bad gzip member: ${(error as Error).message}`,
      cause: error,
    });
  }
}

/** Reads up to `n` bytes from the start of `stream` and puts them back, so a later pipe sees everything. */
async function peek(stream: Readable, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  while (length < n) {
    const chunk: Buffer | null = stream.read();
    if (chunk !== null) {
      chunks.push(chunk);
      length += chunk.length;
      continue;
    }
    if (stream.readableEnded || stream.destroyed) break;
    const ended = await new Promise<boolean>((resolve, reject) => {
      const done = (value: boolean) => {
        stream.off("readable", onReadable);
        stream.off("end", onEnd);
        stream.off("error", onError);
        resolve(value);
      };
      const onReadable = () => done(false);
      const onEnd = () => done(true);
      const onError = (error: Error) => {
        stream.off("readable", onReadable);
        stream.off("end", onEnd);
        reject(error);
      };
      stream.once("readable", onReadable);
      stream.once("end", onEnd);
      stream.once("error", onError);
    });
    if (ended) break;
  }
  const head = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
  if (head.length > 0) stream.unshift(head);
  return head.subarray(0, n);
}
