import fs from "node:fs/promises";
import type { AsyncBuffer, FileMetaData } from "hyparquet";
import { asyncBufferFromUrl, parquetMetadataAsync, parquetSchema } from "hyparquet";
import { FetchError } from "./errors.js";
import { createHttpFetch, type HttpParams } from "./http.js";
import type { Scratch } from "./scratch.js";
import type { Source } from "./types.js";

/**
 * An AsyncBuffer that can also read into a buffer its caller owns: the page readers reuse one buffer per
 * column for the compressed pages instead of allocating ~1 MB per page (over 10M LAION rows ~1.5 GB of
 * short-lived buffers, which glibc's allocator held on to as fragmentation: ~15 MB of peak RSS).
 */
export interface ReusableBuffer extends AsyncBuffer {
  /** Fills `target` with the bytes from `start` (`target.length` of them). */
  readInto?(start: number, target: Uint8Array): Promise<void>;
}

/** Bytes [start, end) of a file: into `reuse` (grown when too small) when the file can, else a new buffer. */
export async function readBytes(
  file: ReusableBuffer,
  start: number,
  end: number,
  reuse: Scratch,
): Promise<Uint8Array> {
  if (!file.readInto) return new Uint8Array(await file.slice(start, end));
  const target = reuse.get("compressed", Uint8Array, end - start);
  await file.readInto(start, target);
  return target;
}

/**
 * A local file as an AsyncBuffer over one open handle: each slice is one positioned read into an
 * exact-size buffer (hyparquet's asyncBufferFromFile opens a read stream per slice and concatenates
 * 64 KiB chunks, which costs more than the decoding on a fast disk).
 */
export async function localBuffer(file: string): Promise<ReusableBuffer & { close(): Promise<void> }> {
  const handle = await fs.open(file, "r");
  const { size } = await handle.stat();
  const readInto = async (start: number, out: Uint8Array) => {
    let done = 0;
    while (done < out.length) {
      const { bytesRead } = await handle.read(out, done, out.length - done, start + done);
      if (bytesRead === 0) throw new Error(`unexpected end of file at byte ${start + done}`);
      done += bytesRead;
    }
  };
  return {
    byteLength: size,
    async slice(start, end = size) {
      const out = new Uint8Array(Math.max(0, end - start));
      await readInto(start, out);
      return out.buffer;
    },
    readInto,
    close: () => handle.close(),
  };
}

export interface OpenedParquet {
  file: AsyncBuffer;
  metadata: FileMetaData;
  /** Top-level column names in file order. */
  names: string[];
  /** Physical type of each top-level column, e.g. BYTE_ARRAY, INT64, DOUBLE. */
  types: Record<string, string | undefined>;
  /** Releases the file handle (local files); safe to call more than once. */
  close(): Promise<void>;
}

/** Counts every byte returned by `slice`, so local and remote reads report the same figure. */
function countingBuffer(file: ReusableBuffer, counter: { bytes: number }): ReusableBuffer {
  const { readInto } = file;
  return {
    byteLength: file.byteLength,
    async slice(start, end) {
      const buf = await file.slice(start, end);
      counter.bytes += buf.byteLength;
      return buf;
    },
    ...(readInto && {
      async readInto(start: number, target: Uint8Array) {
        await readInto(start, target);
        counter.bytes += target.length;
      },
    }),
  };
}

/**
 * Remembers recent small reads (up to 64 KiB) and serves overlapping reads from them: the footer read
 * at open holds the end of the file (most of a small file, and the offset indexes written before the
 * footer). Page reads are not kept: each page is read once (`ColumnPages`, `PageWalk`).
 */
function overlapCache(
  file: ReusableBuffer,
  params: { entries?: number; keepBytes?: number } = {},
): ReusableBuffer {
  const maxEntries = params.entries ?? 16;
  const keepBytes = params.keepBytes ?? 64 << 10;
  const cache: { start: number; data: Uint8Array }[] = [];
  const remember = (start: number, buf: ArrayBuffer) => {
    // page reads are larger and never read again: copying their tails cost an allocation per page
    if (buf.byteLength > keepBytes) return;
    cache.push({ start, data: new Uint8Array(buf) });
    if (cache.length > maxEntries) cache.shift();
  };
  const { readInto } = file;
  return {
    byteLength: file.byteLength,
    // page reads (never cached) straight into the caller's buffer, unless a cached run holds some of it
    ...(readInto && {
      async readInto(this: AsyncBuffer, start: number, target: Uint8Array) {
        const end = start + target.length;
        if (cache.some((c) => c.start < end && start < c.start + c.data.length))
          target.set(new Uint8Array(await this.slice(start, end)));
        else await readInto(start, target);
      },
    }),
    async slice(start, end = file.byteLength) {
      if (start >= end) return new ArrayBuffer(0);
      // a cached run that holds `start`: serve what it has, fetch only the rest
      let hit: { start: number; data: Uint8Array } | undefined;
      for (const c of cache) {
        if (c.start <= start && start < c.start + c.data.length) {
          if (!hit || c.start + c.data.length > hit.start + hit.data.length) hit = c;
        }
      }
      if (!hit) {
        const buf = await file.slice(start, end);
        remember(start, buf);
        return buf;
      }
      const hitEnd = hit.start + hit.data.length;
      if (end <= hitEnd) return hit.data.slice(start - hit.start, end - hit.start).buffer;
      const rest = await file.slice(hitEnd, end);
      remember(hitEnd, rest);
      const out = new Uint8Array(end - start);
      out.set(hit.data.subarray(start - hit.start), 0);
      out.set(new Uint8Array(rest), hitEnd - start);
      return out.buffer;
    },
  };
}

/** Footer bytes read first; hyparquet reads the rest of a larger footer in one more request. */
const FOOTER_GUESS = 64 * 1024;

/**
 * Open a local or remote parquet file and read its footer. Remote files are read with HTTP range
 * requests only (hyparquet's asyncBufferFromUrl over our fetch). Errors name the file and say
 * whether it is missing, unreachable, not parquet at all, or truncated.
 */
export async function openParquet(params: { source: Source; counter: { bytes: number } } & HttpParams) {
  const { source, counter } = params;
  let file: ReusableBuffer;
  let close = async () => {};
  if (source.kind === "file") {
    try {
      const st = await fs.stat(source.location);
      if (!st.isFile()) throw new FetchError(`input ${source.location} is not a file`);
    } catch (err) {
      if (err instanceof FetchError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      throw new FetchError(
        code === "ENOENT"
          ? `input file not found: ${source.location}`
          : `cannot read input ${source.location} (${code})`,
      );
    }
    const local = await localBuffer(source.location);
    let closed = false;
    close = async () => {
      if (!closed) await local.close();
      closed = true;
    };
    file = overlapCache(countingBuffer(local, counter));
  } else {
    // The HTTP fetch counts body bytes itself (HEAD requests have none).
    const fetch = createHttpFetch({ ...params, counter });
    file = overlapCache(await asyncBufferFromUrl({ url: source.location, byteLength: source.size, fetch }));
  }
  let metadata: FileMetaData;
  try {
    if (file.byteLength < 12) throw new Error("too small");
    metadata = await parquetMetadataAsync(file, { initialFetchSize: FOOTER_GUESS });
  } catch (err) {
    if (err instanceof FetchError) {
      await close();
      throw err;
    }
    const head = new Uint8Array(await file.slice(0, Math.min(4, file.byteLength)));
    const startsPar1 = head.length === 4 && new TextDecoder().decode(head) === "PAR1";
    await close();
    throw new FetchError(
      startsPar1
        ? `${source.location}: truncated parquet file (starts with PAR1 but its footer is missing or damaged: ${(err as Error).message}); download it again`
        : `${source.location}: not a parquet file (no PAR1 magic bytes, ${file.byteLength} bytes)`,
    );
  }
  const children = parquetSchema(metadata).children;
  const names = children.map((c) => c.element.name);
  const types: Record<string, string | undefined> = {};
  for (const c of children) types[c.element.name] = c.element.type;
  return { file, metadata, names, types, close } satisfies OpenedParquet;
}
