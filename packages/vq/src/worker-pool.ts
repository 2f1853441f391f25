// A few worker_threads answering request/response messages: the data-parallel trainers' helpers.
// tfjs-backend-wasm is single-threaded in Node (no WASM_HAS_MULTITHREAD_SUPPORT), so the second core
// is only used by a second wasm instance in another thread.
import { existsSync } from "node:fs";
import os from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

/** Cores this process may use (cgroup-aware on Node ≥ 18.14). */
export function availableCores(): number {
  return typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
}

/**
 * The threads a training run uses: worker threads run wasm, so only a wasm run shares its batches
 * (`requested`, default every core this process may use); any other backend trains on one thread.
 */
export function trainingThreads(backend: string, requested?: number | null): number {
  return backend === "wasm" ? (requested ?? availableCores()) : 1;
}

/** [start, end) of each of `parts` contiguous shards of n items (sizes differ by at most one; no empty shard). */
export function shardBounds(n: number, parts: number): [number, number][] {
  const k = Math.max(1, Math.min(parts, n));
  return Array.from({ length: k }, (_, i) => [Math.floor((i * n) / k), Math.floor(((i + 1) * n) / k)]);
}

/**
 * The worker entry `name` next to the calling module (`base` = its import.meta.url): the compiled
 * `name.js` in a built package; `name.ts` when running from the TypeScript sources (the workspace's
 * tests), started with the loader vitest.shared.ts names in LAION_TS_LOADER.
 */
export function workerEntry(base: string | undefined, name: string): { url: URL; execArgv: string[] } {
  // the CommonJS build has no import.meta.url; its chunks sit in dist/ beside the worker entries
  if (base === undefined) base = pathToFileURL(`${__dirname}/`).href;
  const js = new URL(`./${name}.js`, base);
  if (!base.endsWith(".ts") || existsSync(fileURLToPath(js))) return { url: js, execArgv: [] };
  const loader = process.env.LAION_TS_LOADER;
  if (!loader) {
    throw new Error(
      `${name}: running from TypeScript sources needs a loader for worker threads (LAION_TS_LOADER, set by vitest.shared.ts); or build the package`,
    );
  }
  return { url: new URL(`./${name}.ts`, base), execArgv: ["--conditions=@laion/source", "--import", loader] };
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

/** One worker thread with numbered requests; a crash or error rejects every open request. */
export class WorkerClient {
  private next = 0;
  private readonly pending = new Map<number, Pending>();
  private failed: Error | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on("message", (m: { id: number; ok: boolean; value?: unknown; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(`worker thread: ${m.error}`));
    });
    const fail = (err: Error) => {
      this.failed = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => {
      if (code !== 0) fail(new Error(`worker thread exited with code ${code}`));
    });
  }

  static start(entry: { url: URL; execArgv: string[] }): WorkerClient {
    return new WorkerClient(new Worker(entry.url, { execArgv: entry.execArgv }));
  }

  /** Send a request; resolves with the worker's answer. Listed buffers are moved, not copied. */
  call<T>(message: object, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, ...message }, transfer);
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

/**
 * `threads - 1` worker threads (the caller's thread is the first "thread"), each sent `init` at start.
 * Their setup (tfjs + wasm in a fresh thread) overlaps the caller's; `ready()` is awaited before use.
 */
export class WorkerPool {
  private readonly init: Promise<unknown>;
  readonly workers: WorkerClient[];

  constructor(entry: { url: URL; execArgv: string[] }, threads: number, init: object) {
    this.workers = Array.from({ length: threads - 1 }, () => WorkerClient.start(entry));
    this.init = Promise.all(this.workers.map((w) => w.call(init)));
    this.init.catch(() => {}); // reported by ready(), not as an unhandled rejection
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  async ready(): Promise<void> {
    await this.init;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }
}

/** The worker side: answer each request with `handle`'s result (or its error message). */
export function serveRequests(
  port: {
    on(event: "message", f: (m: { id: number }) => void): void;
    postMessage(m: unknown, t?: ArrayBuffer[]): void;
  },
  handle: (message: Record<string, unknown>) => Promise<{ value: unknown; transfer?: ArrayBuffer[] }>,
): void {
  // one request at a time, in order: a worker has one tfjs instance
  let queue = Promise.resolve();
  port.on("message", (m) => {
    queue = queue.then(async () => {
      try {
        const { value, transfer } = await handle(m as unknown as Record<string, unknown>);
        port.postMessage({ id: m.id, ok: true, value }, transfer ?? []);
      } catch (err) {
        port.postMessage({ id: m.id, ok: false, error: (err as Error).stack ?? String(err) });
      }
    });
  });
}
