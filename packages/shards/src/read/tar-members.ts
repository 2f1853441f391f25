import type { Readable } from "node:stream";
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

/** True when the URL's extension says gzip (.tgz, .tar.gz, .gz). */
export function hasGzipExtension(url: string): boolean {
  return /\.(tgz|gz)$/i.test(url.replace(/[?#].*$/, ""));
}

/**
 * Streams the regular files of a tar (or gzipped tar) byte stream, one member at a time:
 * the next member is parsed only when the consumer asks for it, so memory holds one member.
 * Gzip is detected from the URL's extension or from the magic bytes. Directories, links and
 * other non-regular entries are skipped. With `gunzipMembers`, `x.txt.gz` members are
 * decompressed and renamed `x.txt`. Every error is a ShardError naming `url` and the member.
 */
export async function* tarMembers(params: {
  stream: Readable;
  url: string;
  gunzipMembers?: boolean;
}): AsyncGenerator<TarMember> {
  const { stream, url } = params;
  const head = await peek(stream, 2).catch((error: Error) => {
    throw new ShardError({ url, message: error.message, cause: error });
  });
  const gzipped =
    hasGzipExtension(url) || (head.length >= 2 && head[0] === GZIP_MAGIC_0 && head[1] === GZIP_MAGIC_1);

  const extract = tar.extract();
  let member: string | undefined;
  let previous: string | undefined;
  let failure: ShardError | undefined;
  const fail = (message: string, cause: unknown) => {
    if (!failure) {
      const after = member === undefined && previous !== undefined ? ` after member ${previous}` : "";
      failure = new ShardError({ url, member, message: message + after, cause });
    }
    extract.destroy(failure);
  };
  stream.on("error", (error) => fail(`read failed: ${error.message}`, error));
  if (gzipped) {
    const gunzip = createGunzip();
    gunzip.on("error", (error) => fail(`bad gzip data: ${error.message}`, error));
    stream.pipe(gunzip).pipe(extract as unknown as NodeJS.WritableStream);
  } else {
    stream.pipe(extract as unknown as NodeJS.WritableStream);
  }

  try {
    for await (const entry of extract) {
      const header = entry.header;
      member = header.name;
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        chunks.push(chunk);
        size += chunk.length;
      }
      if (header.type === "file" || header.type === "contiguous-file") {
        // Always copy: a chunk may be a view into a 1 MiB read buffer that we must not pin.
        const data = Buffer.concat(chunks, size);
        yield params.gunzipMembers && /\.gz$/i.test(member)
          ? { name: member.slice(0, -3), data: gunzipMember(data, url, member) }
          : { name: member, data };
      }
      previous = member;
      member = undefined;
    }
  } catch (error) {
    if (failure) throw failure;
    if (error instanceof ShardError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    if (/unexpected end of data/i.test(message)) fail("truncated tar (unexpected end of data)", error);
    else fail(message.replace(/\.?$/, ""), error);
    throw failure;
  } finally {
    stream.unpipe();
    stream.destroy();
    extract.destroy();
  }
}

function gunzipMember(data: Buffer, url: string, member: string): Uint8Array {
  try {
    return gunzipSync(data);
  } catch (error) {
    throw new ShardError({
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
  const head = Buffer.concat(chunks);
  if (head.length > 0) stream.unshift(head);
  return head.subarray(0, n);
}
