import { type Readable, Transform } from "node:stream";
import { createGunzip, gunzipSync } from "node:zlib";
import tar from "tar-stream";
import { ShardError } from "./errors.js";

/** One regular file of a tar archive, read whole. */
export interface TarMember {
  /** Path inside the archive (pax and GNU long names resolved); a trailing `.gz` is removed when the member was gunzipped. */
  name: string;
  data: Uint8Array;
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;
const MAX_AHEAD_BYTES = 16 << 20;

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
  const maxAhead = params.readAhead ?? 16;
  const maxMember = checkLimit("maxMemberBytes", params.maxMemberBytes ?? DEFAULT_MAX_MEMBER_BYTES);
  const maxShard = checkLimit("maxShardBytes", params.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES);
  const head = await peek(stream, 2).catch((error: Error) => {
    throw new ShardError({ url, message: error.message, cause: error });
  });
  const gzipped =
    hasGzipExtension(url) || (head.length >= 2 && head[0] === GZIP_MAGIC_0 && head[1] === GZIP_MAGIC_1);

  const extract = tar.extract();
  // State shared by tar-stream's event callbacks (producer) and this generator (consumer).
  // A skipped member travels in order with the others, so its error is raised where it lay.
  const queue: (TarMember | ShardError)[] = [];
  let queuedBytes = 0;
  let heldNext = null as (() => void) | null; // tar-stream waits for this before parsing on
  let inEntry = false;
  let finished = false;
  let member: string | undefined;
  let previous: string | undefined;
  let failure: ShardError | undefined;
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const roomAhead = () => queue.length < maxAhead && queuedBytes < MAX_AHEAD_BYTES;
  const fail = (message: string, cause: unknown) => {
    if (!failure) {
      const after = member === undefined && previous !== undefined ? ` after member ${previous}` : "";
      failure = new ShardError({ url, member, message: message + after, cause });
    }
    extract.destroy(failure);
    notify();
  };

  extract.on("entry", (header, entry, next) => {
    inEntry = true;
    member = header.name;
    const regular = header.type === "file" || header.type === "contiguous-file";
    // The header's size is what the parser will read for this entry, so checking it first means
    // an oversized member is drained, never held.
    const oversize = regular && (header.size ?? 0) > maxMember;
    const chunks: Buffer[] = [];
    let size = 0;
    // An entry stream is destroyed with the extractor's error, which is reported once, below.
    entry.on("error", () => {});
    entry.on("data", (data: unknown) => {
      if (oversize || !regular) return;
      const chunk = data as Buffer;
      chunks.push(chunk);
      size += chunk.length;
    });
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      if (oversize) {
        queue.push(
          new ShardError({
            url,
            member: header.name,
            message: `member is ${header.size} bytes, over max-member-bytes (${maxMember}); skipped`,
          }),
        );
      } else if (regular) {
        const data = chunks.length === 1 && !params.copy ? (chunks[0] as Buffer) : joined(chunks, size);
        queue.push({ name: header.name, data });
        queuedBytes += size;
      }
      previous = member;
      member = undefined;
      inEntry = false;
      if (roomAhead()) next();
      else heldNext = next;
      notify();
    };
    entry.on("end", end);
    // tar-stream reads no body for a directory, but a directory header that claims a size gets an entry
    // stream that never ends (found by the fuzz suite): a directory is over as soon as it starts.
    if (header.type === "directory") end();
  });
  extract.on("finish", () => {
    finished = true;
    notify();
  });
  extract.on("error", (error: Error) => {
    if (failure) return;
    if (/unexpected end of data/i.test(error.message)) fail("truncated tar (unexpected end of data)", error);
    else fail(error.message.replace(/\.?$/, ""), error);
  });
  stream.on("error", (error) => fail(`read failed: ${error.message}`, error));
  const gunzip = gzipped ? createGunzip() : undefined;
  const counter = byteCounter(maxShard, (read) =>
    fail(
      `shard is over max-shard-bytes (${maxShard} tar bytes${gzipped ? " after gunzip" : ""}, read ${read})`,
      undefined,
    ),
  );
  counter.on("error", () => {}); // destroyed with `fail`'s error, reported there
  if (gunzip) {
    gunzip.on("error", (error) => fail(`bad gzip data: ${error.message}`, error));
    stream
      .pipe(gunzip)
      .pipe(counter)
      .pipe(extract as unknown as NodeJS.WritableStream);
  } else {
    stream.pipe(counter).pipe(extract as unknown as NodeJS.WritableStream);
  }

  try {
    for (;;) {
      const next = queue.shift();
      if (next !== undefined) {
        if (!(next instanceof ShardError)) queuedBytes -= next.data.length;
        if (heldNext && roomAhead()) {
          const resume = heldNext;
          heldNext = null;
          resume();
        }
        const taken =
          next instanceof ShardError ? next : unpacked(next, url, params.gunzipMembers, maxMember);
        if (!(taken instanceof ShardError)) yield taken;
        else if (params.onSkip) params.onSkip(taken);
        else throw taken;
        continue;
      }
      // Members complete before a failure are delivered first, then the failure.
      if (failure) throw failure;
      if (finished && !inEntry) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    stream.unpipe();
    stream.destroy();
    gunzip?.destroy();
    counter.destroy();
    extract.destroy();
  }
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

/**
 * The chunks copied into one buffer of exactly `size` bytes. allocUnsafeSlow, not concat: small
 * members would otherwise share Node's 8 KiB pool slabs, and one kept member pins its whole slab.
 */
function joined(chunks: readonly Buffer[], size: number): Buffer {
  const out = Buffer.allocUnsafeSlow(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
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
