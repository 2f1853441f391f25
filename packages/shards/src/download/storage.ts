import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { syncFolder, writeFileAtomic } from "@laion/cli-kit";
import { createS3Client, describeS3Error, parseS3Url, type S3Options } from "../read/s3.js";

/** A problem with the output location (unwritable, full, unreachable): stops the run with a clear message. */
export class OutputError extends Error {
  override name = "OutputError";
}

/** An object being written: bytes go to a temporary place and appear under their name only on commit. */
export interface PendingObject {
  stream: Writable;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** Where shards go: a local folder or an S3 prefix, behind one small interface. */
export interface ShardStorage {
  /** For messages: the folder or s3:// URL. */
  readonly location: string;
  /** Fails with an OutputError naming the location when nothing can be written there. */
  probe(): Promise<void>;
  exists(name: string): Promise<boolean>;
  create(name: string): Promise<PendingObject>;
  /** Writes a small object in one go (atomically on local disks). */
  put(name: string, bytes: Uint8Array | string): Promise<void>;
  /** Reads a small object back as text (the stats of finished shards). */
  read(name: string): Promise<string>;
  /** Removes leftovers of killed runs (local temp files) for the shards `owns` says are ours. */
  removeStale(owns: (name: string) => boolean): Promise<number>;
}

/** A filesystem error in words, with its code. */
export function explain(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === "ENOSPC") return "disk full (ENOSPC)";
  if (e.code === "EDQUOT") return "disk quota exceeded (EDQUOT)";
  if (e.code === "EACCES" || e.code === "EPERM") return `permission denied (${e.code})`;
  if (e.code === "EROFS") return "read-only file system (EROFS)";
  if (e.code === "ENOTDIR") return "a parent of it is a file, not a folder (ENOTDIR)";
  if (e.code === "EEXIST") return "it exists and is not a folder (EEXIST)";
  return e.message ?? String(err);
}

const TEMP_MARK = ".tmp-";

/**
 * Destroys a file's write stream and resolves once it has closed the file. Before that the stream may
 * still be opening (creating) it: a temporary file removed right after `destroy()` could appear after the
 * removal (seen in CI: an aborted shard's `.tmp` left behind). Both storages' `abort()` call this before
 * they remove their temporary file.
 */
async function destroyAndWaitClosed(stream: Writable): Promise<void> {
  if (stream.closed) return;
  const closed = new Promise<void>((resolve) => stream.once("close", () => resolve()));
  stream.destroy();
  await closed;
}

/**
 * Bytes a shard's write stream buffers before it pushes back. Node's default, 16 KiB, is less than one
 * resized image: every sample then waited for its own disk write, queued in libuv's thread pool behind the
 * sharp jobs that hold all its threads (0.4–0.5 ms CPU and ~1 ms wall per sample, serialised per shard).
 * With 4 MiB the tar goes out in large writev calls and a sample waits only when the disk falls behind.
 */
export const WRITE_BUFFER_BYTES = 4 << 20;

/**
 * A local output folder; every file is written as `name.tmp-<pid>`, synced to disk, renamed, and the folder
 * synced, so readers never see half a file and a power cut never leaves a shard marked complete (its
 * `_stats.json`, written last) whose tar or parquet did not reach the disk.
 */
export function localFolderStorage(dir: string): ShardStorage {
  const full = (name: string) => path.join(dir, name);
  const temp = (name: string) => `${full(name)}${TEMP_MARK}${process.pid}`;
  const fail = (what: string, err: unknown) => new OutputError(`cannot write ${what}: ${explain(err)}`);
  return {
    location: dir,
    async probe() {
      try {
        await fs.promises.mkdir(dir, { recursive: true });
        const probe = path.join(dir, `.write-probe${TEMP_MARK}${process.pid}`);
        await fs.promises.writeFile(probe, "ok");
        await fs.promises.rm(probe);
      } catch (err) {
        throw fail(`to output folder ${dir}`, err);
      }
    },
    async exists(name) {
      return fs.promises.access(full(name)).then(
        () => true,
        () => false,
      );
    },
    async create(name) {
      const tmp = temp(name);
      // flush: the stream fsyncs before it closes, so the data is on disk before the rename names it
      const stream = fs.createWriteStream(tmp, { highWaterMark: WRITE_BUFFER_BYTES, flush: true });
      const done = finished(stream).catch((err: unknown) => {
        throw fail(full(name), err);
      });
      done.catch(() => {}); // observed by commit(); never an unhandled rejection meanwhile
      return {
        stream,
        async commit() {
          await done;
          await fs.promises.rename(tmp, full(name)).catch((err: unknown) => {
            throw fail(full(name), err);
          });
          await syncFolder(dir).catch((err: unknown) => {
            throw fail(full(name), err);
          });
        },
        async abort() {
          await destroyAndWaitClosed(stream);
          await fs.promises.rm(tmp, { force: true });
        },
      };
    },
    async put(name, bytes) {
      // writeFileAtomic syncs the data before its rename and the folder after it
      await writeFileAtomic(full(name), bytes).catch((err: unknown) => {
        throw fail(full(name), err);
      });
    },
    async read(name) {
      return fs.promises.readFile(full(name), "utf8");
    },
    async removeStale(owns) {
      let removed = 0;
      for (const entry of await fs.promises.readdir(dir)) {
        const at = entry.indexOf(TEMP_MARK);
        if (at > 0 && owns(entry.slice(0, at))) {
          await fs.promises.rm(full(entry), { force: true });
          removed++;
        }
      }
      return removed;
    },
  };
}

export interface S3StorageParams extends S3Options {
  /** `s3://bucket/prefix` */
  url: string;
  /** An existing client (tests, custom middleware); otherwise one is made from the options and AWS_* env. */
  client?: S3Client;
}

/**
 * An S3 (or S3-compatible) prefix. A shard is spooled to a local temp file and uploaded with one PutObject
 * when complete, so a killed run never leaves a partial object behind (S3 objects appear atomically).
 */
export function s3Storage(params: S3StorageParams): ShardStorage {
  const { bucket, key: prefix } = parseS3Url(params.url);
  const client = params.client ?? createS3Client(params);
  const keyOf = (name: string) => (prefix ? `${prefix.replace(/\/+$/, "")}/${name}` : name);
  const where = (name: string) => `s3://${bucket}/${keyOf(name)}`;
  const fail = (what: string, err: unknown) =>
    new OutputError(`cannot write ${what}: ${describeS3Error(err)}`);
  return {
    location: params.url,
    async probe() {
      const key = keyOf(`.write-probe-${process.pid}-${Date.now()}`);
      try {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "ok" }));
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      } catch (err) {
        throw fail(`to output ${params.url}`, err);
      }
    },
    async exists(name) {
      try {
        await client.send(new HeadObjectCommand({ Bucket: bucket, Key: keyOf(name) }));
        return true;
      } catch (err) {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 404 || (err as Error).name === "NotFound") return false;
        throw fail(where(name), err);
      }
    },
    async create(name) {
      const tmpDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), "laion-shard-"));
      const tmp = path.join(tmpDir, name);
      const stream = fs.createWriteStream(tmp, { highWaterMark: WRITE_BUFFER_BYTES });
      const done = finished(stream);
      done.catch(() => {});
      const cleanup = () => fs.promises.rm(tmpDir, { recursive: true, force: true });
      return {
        stream,
        async commit() {
          try {
            await done;
            const { size } = await fs.promises.stat(tmp);
            await client.send(
              new PutObjectCommand({
                Bucket: bucket,
                Key: keyOf(name),
                Body: fs.createReadStream(tmp),
                ContentLength: size,
              }),
            );
          } catch (err) {
            throw fail(where(name), err);
          } finally {
            await cleanup();
          }
        },
        async abort() {
          await destroyAndWaitClosed(stream);
          await cleanup();
        },
      };
    },
    async put(name, bytes) {
      try {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: keyOf(name), Body: bytes }));
      } catch (err) {
        throw fail(where(name), err);
      }
    },
    async read(name) {
      const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: keyOf(name) }));
      return (await res.Body?.transformToString("utf8")) ?? "";
    },
    async removeStale() {
      return 0; // nothing partial is ever uploaded
    },
  };
}

export interface OutputParams extends S3Options {
  /** A local folder, or `s3://bucket/prefix`. */
  output: string;
  /** Endpoint of an S3-compatible store (MinIO, R2, Ceph …). */
  s3Endpoint?: string;
  s3Client?: S3Client;
}

export function openStorage(params: OutputParams): ShardStorage {
  if (params.output.startsWith("s3://")) {
    const endpoint = params.s3Endpoint ?? params.endpoint;
    return s3Storage({
      url: params.output,
      ...(endpoint ? { endpoint } : {}),
      ...(params.region ? { region: params.region } : {}),
      ...(params.credentials ? { credentials: params.credentials } : {}),
      ...(params.s3Client ? { client: params.s3Client } : {}),
    });
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(params.output))
    throw new OutputError(`unsupported output ${params.output}: use a local folder or s3://bucket/prefix`);
  return localFolderStorage(params.output);
}
