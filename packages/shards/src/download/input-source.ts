import fs from "node:fs";
import { Readable, Transform } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { createGunzip } from "node:zlib";
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { Decompress } from "fzstd";
import { type AsyncBuffer, asyncBufferFromFile, asyncBufferFromUrl, cachedAsyncBuffer } from "hyparquet";
import { parseS3Url } from "../read/s3.js";

/** Where input files are read from: local paths, `http(s)://` URLs and `s3://bucket/key` objects. */
export interface InputIo {
  /** Lazily created client for `s3://` inputs. */
  s3Client: () => S3Client;
}

export type Compression = "gzip" | "zstd" | null;

const REMOTE = /^(https?|s3):\/\//i;

export const isRemoteInput = (location: string) => REMOTE.test(location);

/** The name without a query string or fragment (URLs), for extension checks. */
export const plainName = (location: string) =>
  isRemoteInput(location) ? location.replace(/[?#].*$/, "") : location;

/** `.gz` / `.zst` at the end of the name (after which the format's own extension comes). */
export function compressionOf(location: string): Compression {
  const name = plainName(location).toLowerCase();
  if (name.endsWith(".gz")) return "gzip";
  if (name.endsWith(".zst") || name.endsWith(".zstd")) return "zstd";
  return null;
}

/** A zstd stream decoder (Node 20's zlib has none; fzstd is a maintained pure-JS decoder). */
function zstdDecompress(): Transform {
  const out = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      try {
        decoder.push(chunk);
        done();
      } catch (error) {
        done(new Error(`bad zstd data: ${(error as Error).message}`));
      }
    },
    flush(done) {
      try {
        decoder.push(new Uint8Array(0), true);
        done();
      } catch (error) {
        done(new Error(`bad zstd data: ${(error as Error).message}`));
      }
    },
  });
  const decoder = new Decompress((data) => out.push(Buffer.from(data.buffer, data.byteOffset, data.length)));
  return out;
}

async function rawStream(location: string, io: InputIo): Promise<Readable> {
  if (/^https?:\/\//i.test(location)) {
    const response = await fetch(location);
    if (!response.ok || !response.body)
      throw new Error(`HTTP ${response.status} ${response.statusText}`.trim());
    return Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  }
  if (location.startsWith("s3://")) {
    const { bucket, key } = parseS3Url(location);
    const response = await io.s3Client().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (!(response.Body instanceof Readable)) throw new Error("S3 GetObject returned no readable body");
    return response.Body;
  }
  const stream = fs.createReadStream(location);
  // Surface ENOENT here, naming the file, rather than mid-parse.
  await new Promise<void>((resolve, reject) => {
    stream.once("open", () => resolve());
    stream.once("error", reject);
  });
  return stream;
}

/** The bytes of a text input (csv, tsv, jsonl, txt), decompressed when its name ends in .gz or .zst. */
export async function openInputStream(location: string, io: InputIo): Promise<Readable> {
  const raw = await rawStream(location, io);
  const compression = compressionOf(location);
  if (compression === null) return raw;
  const decoder = compression === "gzip" ? createGunzip() : zstdDecompress();
  raw.on("error", (error) => decoder.destroy(error));
  decoder.on("close", () => raw.destroy());
  return raw.pipe(decoder);
}

/** Random access to a parquet input: local file, HTTP range requests, or S3 ranged GetObject. */
export async function openInputBuffer(location: string, io: InputIo): Promise<AsyncBuffer> {
  if (/^https?:\/\//i.test(location)) return cachedAsyncBuffer(await asyncBufferFromUrl({ url: location }));
  if (location.startsWith("s3://")) {
    const { bucket, key } = parseS3Url(location);
    const client = io.s3Client();
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    const byteLength = Number(head.ContentLength);
    return cachedAsyncBuffer({
      byteLength,
      async slice(start, end) {
        const range = `bytes=${start}-${(end ?? byteLength) - 1}`;
        const part = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }));
        const bytes = await part.Body?.transformToByteArray();
        if (!bytes) throw new Error(`S3 GetObject ${location} (${range}) returned no body`);
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      },
    });
  }
  return asyncBufferFromFile(location);
}

/** The objects under `s3://bucket/prefix/` that `keep` accepts, sorted. */
export async function listS3Inputs(
  url: string,
  io: InputIo,
  keep: (name: string) => boolean,
): Promise<string[]> {
  const { bucket, key: prefix } = parseS3Url(url);
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await io
      .s3Client()
      .send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const object of page.Contents ?? []) if (object.Key && keep(object.Key)) keys.push(object.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort().map((k) => `s3://${bucket}/${k}`);
}
