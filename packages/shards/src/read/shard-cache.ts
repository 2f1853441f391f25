import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { acquireOutputLock, OutputBusyError, type OutputLock } from "@laion/cli-kit";
import type { OpenedShard } from "./open-shard.js";

/** Remote sources the cache holds; local files and `pipe:` commands are read directly. */
const CACHEABLE = /^(https?:\/\/|s3:\/\/)/;
const LOCK_POLL_MS = 50;

export interface ShardCacheParams {
  /** Folder of the cache (created when missing); several readers and processes may share it. */
  dir: string;
  /** Total size the cache is trimmed to after each download, least recently used first (default: no limit). */
  limitBytes?: number;
  /** A download larger than this fails (and leaves nothing): a hostile server cannot fill the disk. */
  maxShardBytes: number;
}

export interface ShardCache {
  readonly dir: string;
  /** True for URLs the cache holds (http(s) and s3). */
  holds(url: string): boolean;
  /**
   * The cached copy of `url`, downloaded first through `download` (the remote stream) when it is
   * not there yet. Returns the local path; each shard is downloaded once, also across processes.
   */
  fetch(url: string, download: () => Promise<OpenedShard>): Promise<string>;
}

/**
 * A local cache of remote shards, so epochs and resampling after the first read a local file.
 *
 * - Names are the SHA-256 of the URL (plus its extension, so gzip is still recognised), one
 *   file per shard, flat in `dir`.
 * - A download goes to a temporary file and is renamed into place when complete: a reader sees a
 *   whole shard or none. While it runs, `<name>.lock` (cli-kit's output lock: created exclusively,
 *   naming pid and host) makes other readers — in this process or another — wait for it instead of
 *   downloading again; a lock left by a dead process of this host is taken over.
 * - Every use touches the file's mtime; after a download the cache is trimmed to `limitBytes`,
 *   oldest mtime first (never the file just fetched). A file evicted while another reader has it
 *   open stays readable to that reader (POSIX unlink semantics).
 */
export function createShardCache(params: ShardCacheParams): ShardCache {
  const { dir } = params;
  const limit = params.limitBytes ?? Number.POSITIVE_INFINITY;
  if (typeof dir !== "string" || dir === "") throw new Error("cacheDir must be a folder path");
  if (!(limit > 0)) throw new Error(`cacheLimitBytes must be a number > 0, got ${params.limitBytes}`);
  const inFlight = new Map<string, Promise<string>>();
  return {
    dir,
    holds: (url) => CACHEABLE.test(url),
    fetch(url, download) {
      const file = path.join(dir, cacheName(url));
      // One download per URL within this process; the lock file covers other processes.
      let pending = inFlight.get(file);
      if (!pending) {
        pending = fetchOnce(file, download, { dir, limit, maxBytes: params.maxShardBytes }).finally(() =>
          inFlight.delete(file),
        );
        inFlight.set(file, pending);
      }
      return pending;
    },
  };
}

/** `<sha256 of the URL>.<tar|tgz|tar.gz>` */
export function cacheName(url: string): string {
  const clean = url.replace(/[?#].*$/, "").toLowerCase();
  const ext = clean.endsWith(".tar.gz") ? ".tar.gz" : clean.endsWith(".tgz") ? ".tgz" : ".tar";
  return createHash("sha256").update(url).digest("hex") + ext;
}

async function fetchOnce(
  file: string,
  download: () => Promise<OpenedShard>,
  { dir, limit, maxBytes }: { dir: string; limit: number; maxBytes: number },
): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  for (;;) {
    if (await touch(file)) return file;
    let lock: OutputLock;
    try {
      lock = acquireOutputLock(`${file}.lock`, { purpose: "shard cache download", onLog: () => {} });
    } catch (error) {
      if (!(error instanceof OutputBusyError)) throw error;
      // Another reader is downloading this shard: wait for it, then use its copy.
      await sleep(LOCK_POLL_MS);
      continue;
    }
    try {
      // Another reader may have finished between our check and our lock.
      if (!(await touch(file))) await downloadTo(file, download, maxBytes);
    } finally {
      lock.release();
    }
    await trim(dir, limit, file);
    return file;
  }
}

async function downloadTo(
  file: string,
  download: () => Promise<OpenedShard>,
  maxBytes: number,
): Promise<void> {
  const temp = `${file}.tmp-${process.pid}`;
  const opened = await download();
  let bytes = 0;
  const capped = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > maxBytes) done(new Error(`shard is larger than maxShardBytes (${maxBytes} bytes)`));
      else done(null, chunk);
    },
  });
  try {
    await pipeline(opened.stream, capped, createWriteStream(temp));
    await opened.finished;
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  } finally {
    opened.close();
  }
}

/** Marks a cached file as just used; false when it is not there. */
async function touch(file: string): Promise<boolean> {
  const now = new Date();
  return fs.utimes(file, now, now).then(
    () => true,
    () => false,
  );
}

/** Removes least recently used shards until the cache fits `limit` (keeping `keep`). */
async function trim(dir: string, limit: number, keep: string): Promise<void> {
  if (limit === Number.POSITIVE_INFINITY) return;
  const entries: { file: string; size: number; mtime: number }[] = [];
  for (const name of await fs.readdir(dir)) {
    if (name.includes(".lock") || name.includes(".tmp-")) continue;
    const file = path.join(dir, name);
    const info = await fs.stat(file).catch(() => null);
    if (info?.isFile()) entries.push({ file, size: info.size, mtime: info.mtimeMs });
  }
  let total = entries.reduce((sum, e) => sum + e.size, 0);
  entries.sort((a, b) => a.mtime - b.mtime);
  for (const entry of entries) {
    if (total <= limit) break;
    if (entry.file === keep) continue;
    await fs.rm(entry.file, { force: true });
    total -= entry.size;
  }
}
