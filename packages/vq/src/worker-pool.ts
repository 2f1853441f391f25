// A few worker_threads answering request/response messages: the data-parallel trainers' helpers.
// tfjs-backend-wasm is single-threaded in Node (no WASM_HAS_MULTITHREAD_SUPPORT), so the second core
// is only used by a second wasm instance in another thread.
import { execFileSync, fork } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parentPort, Worker } from "node:worker_threads";
import { type HelperKind, isShared } from "./host-buffers.js";
import { closeSpool, openSpool, SPOOL_ENV, spoolIn, spoolOut } from "./ipc-spool.js";

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

/** The backends that run on a GPU: with them `devices` defaults to the GPUs nvidia-smi lists. */
export const GPU_BACKENDS: readonly string[] = ["tfjs-node-gpu", "webgpu"];

/**
 * How a run shares its batches: over `count` device processes (this one is device 0) when `devices`
 * is above 1 — default: the GPUs nvidia-smi lists (`gpus`) on a GPU backend, else 1 — otherwise over
 * trainingThreads' worker threads.
 */
export function dataParallel(
  backend: string,
  requested: { threads?: number | null; devices?: number | null },
  gpus: number,
): { count: number; kind: HelperKind } {
  const devices = requested.devices ?? (GPU_BACKENDS.includes(backend) ? Math.max(1, gpus) : 1);
  if (devices > 1) return { count: devices, kind: "process" };
  return { count: trainingThreads(backend, requested.threads), kind: "thread" };
}

/**
 * What each of `devices` processes will run on, before any is started (the dry run): device 0 is
 * this process (`here` describes it), the others child processes loading `backend`; `gpus` are
 * nvidia-smi's lines, in CUDA_VISIBLE_DEVICES order.
 */
export function plannedDevices(
  devices: number,
  here: string,
  backend: string,
  gpus: readonly string[],
): string[] {
  return Array.from({ length: devices }, (_, i) => {
    const pin = `CUDA_VISIBLE_DEVICES=${deviceEnv(i).CUDA_VISIBLE_DEVICES}`;
    const gpu = gpus[i] ? `; nvidia-smi: ${gpus[i]}` : "";
    return i === 0
      ? `device 0 (this process, ${pin}): ${here}${gpu}`
      : `device ${i} (child process, ${pin}): backend ${backend}, loaded by the child${gpu}`;
  });
}

let schedstat = process.platform === "linux";
/**
 * CPU time the calling thread has run, in ms: Linux's per-thread scheduler clock
 * (/proc/thread-self/schedstat, ns); elsewhere the whole process's CPU time. Profiles count CPU time,
 * not wall time, so that other processes on the machine do not move them.
 */
export function threadCpuMs(): number {
  if (schedstat) {
    try {
      return Number(readFileSync("/proc/thread-self/schedstat", "utf8").split(" ")[0]) / 1e6;
    } catch {
      schedstat = false;
    }
  }
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Wall and CPU time since the last lap (the first lap counts from creation). */
export function phaseClock(): { lap(): Lap } {
  let wall = performance.now();
  let cpu = threadCpuMs();
  return {
    lap() {
      const w = performance.now();
      const c = threadCpuMs();
      const r = { wallMs: w - wall, cpuMs: c - cpu };
      wall = w;
      cpu = c;
      return r;
    },
  };
}

/** Wall and CPU milliseconds of one phase (or their sums over steps). */
export interface Lap {
  wallMs: number;
  cpuMs: number;
}

/**
 * Steps a profile leaves out: the first compiles kernels and grows each wasm heap, and V8 keeps
 * optimising a fresh helper's code (on its background threads) for many more: with 2 threads V8's
 * compiler and GC threads took 76 ms a step over steps 7–12 of the trainer demo and 38 over steps
 * 21–26 (VQ demo: 39 → 22; load 11–20, session 7), against 20–29 with one thread. A long run pays that
 * once; the profile is meant to show its steady state.
 */
export const PROFILE_WARMUP_STEPS = 11;

/**
 * Where data-parallel steps' time went, summed over the steps after the first PROFILE_WARMUP_STEPS: each phase
 * of the main thread in wall and its own CPU time, and the slowest helper's gradient time per step.
 * CPU time is what an Amdahl bound needs on a loaded machine (tools/bench/threads.bench.mjs).
 */
export interface PhaseProfile<K extends string> {
  steps: number;
  phases: Record<K, Lap>;
  helper: Lap;
}

export function phaseProfile<K extends string>(keys: readonly K[]): PhaseProfile<K> & { seen: number } {
  const phases = Object.fromEntries(keys.map((k) => [k, { wallMs: 0, cpuMs: 0 }])) as Record<K, Lap>;
  return { steps: 0, seen: 0, phases, helper: { wallMs: 0, cpuMs: 0 } };
}

/** Add one step's laps, and the slowest (by wall time) of the helpers' own laps; the first steps are left out. */
export function addStep<K extends string>(
  p: PhaseProfile<K> & { seen: number },
  laps: Record<K, Lap>,
  helpers: Lap[],
): void {
  if (++p.seen <= PROFILE_WARMUP_STEPS) return;
  p.steps++;
  for (const k of Object.keys(laps) as K[]) {
    p.phases[k].wallMs += laps[k].wallMs;
    p.phases[k].cpuMs += laps[k].cpuMs;
  }
  const slowest = helpers.reduce((a, h) => (h.wallMs > a.wallMs ? h : a), { wallMs: 0, cpuMs: 0 });
  p.helper.wallMs += slowest.wallMs;
  p.helper.cpuMs += slowest.cpuMs;
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

export type { HelperKind };

/** What a WorkerClient talks through: a worker thread or a forked child process (its IPC channel). */
interface Channel {
  /** Resolves once the message has left this process: at once for a thread, when written for a child. */
  send(message: object, transfer: ArrayBuffer[]): Promise<void>;
  onMessage(f: (m: { id: number; ok: boolean; value?: unknown; error?: string }) => void): void;
  /** Called once when the helper fails or exits; `why` says how (exit code or signal). */
  onGone(f: (why: string, err?: Error) => void): void;
  close(): Promise<void>;
  /** The child's process id (process helpers). */
  pid?: number;
}

function threadChannel(entry: { url: URL; execArgv: string[] }): Channel {
  const worker = new Worker(entry.url, { execArgv: entry.execArgv });
  return {
    send: (m, transfer) => {
      worker.postMessage(m, transfer);
      return Promise.resolve();
    },
    onMessage: (f) => worker.on("message", f),
    onGone: (f) => {
      worker.on("error", (err) => f(err.message, err));
      worker.on("exit", (code) => f(`exited with code ${code}`));
    },
    close: async () => {
      await worker.terminate();
    },
  };
}

/**
 * A forked child; its large typed arrays, both ways, go through files in `spool` (ipc-spool.ts), a
 * folder the pool shares between its children.
 */
function processChannel(
  entry: { url: URL; execArgv: string[] },
  env: Record<string, string>,
  spool: string,
): Channel {
  // "advanced" serialization: typed arrays cross as typed arrays (structured clone), not as JSON
  const child = fork(fileURLToPath(entry.url), [], {
    execArgv: entry.execArgv,
    env: { ...process.env, ...env, [SPOOL_ENV]: spool },
    serialization: "advanced",
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let closing = false;
  let gone: (why: string, err?: Error) => void = () => {};
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    pid: child.pid,
    // a child's IPC channel copies everything: there is nothing to transfer. The write goes through a
    // pipe of 64 KiB, on this process's event loop: a message larger than that is written while the
    // child reads, and only once the callback has run is all of it out. A send to a child that just
    // died fails with "channel closed": its exit, which follows, says why (signal or code)
    send: (m) => {
      let written = () => {};
      const sent = new Promise<void>((resolve) => {
        written = resolve;
      });
      // outside the promise: a message that cannot be serialised throws to the caller, as from a thread
      child.send(spoolOut(m, spool) as object, (err) => {
        written();
        if (!err) return;
        // a child that stays alive with its channel closed would leave the request unanswered
        setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null)
            gone(`closed its channel (${err.message})`, err);
        }, 5000).unref();
      });
      return sent;
    },
    onMessage: (f) => child.on("message", (m) => f(spoolIn(m) as Parameters<typeof f>[0])),
    onGone: (f) => {
      gone = f;
      // a running child's errors are IPC ones; its exit reports it
      child.on("error", (err) => {
        if (child.pid === undefined) f(`could not start: ${err.message}`, err);
      });
      child.on("exit", (code, signal) => {
        if (!closing) f(signal ? `was killed by ${signal}` : `exited with code ${code}`);
      });
    },
    close: async () => {
      closing = true;
      if (child.exitCode === null && child.signalCode === null) child.kill();
      await exited;
    },
  };
}

/** The CUDA device ids this process was started with (CUDA_VISIBLE_DEVICES before pinFirstDevice changed it). */
const visibleAtStart = process.env.CUDA_VISIBLE_DEVICES;

/**
 * The environment that pins helper `index` to its device: `CUDA_VISIBLE_DEVICES` = the index-th of the
 * ids this process was started with (0, 1, … when none were set). libtensorflow then sees that one GPU
 * as /GPU:0 and reserves memory on no other.
 */
export function deviceEnv(index: number, visible = visibleAtStart): Record<string, string> {
  const ids = (visible ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (visible === undefined || ids.length === 0) return { CUDA_VISIBLE_DEVICES: String(index) };
  const id = ids[index];
  if (id === undefined)
    throw new Error(`device ${index}: CUDA_VISIBLE_DEVICES=${visible} lists only ${ids.length} device(s)`);
  return { CUDA_VISIBLE_DEVICES: id };
}

/**
 * With `devices` > 1 this process is device 0: pin it before a GPU backend loads (libtensorflow
 * otherwise takes memory on every visible GPU, the children's included). Call before selectBackend.
 */
export function pinFirstDevice(devices: number): void {
  if (devices > 1) process.env.CUDA_VISIBLE_DEVICES = deviceEnv(0).CUDA_VISIBLE_DEVICES;
}

/**
 * GPUs `nvidia-smi -L` lists (limited to CUDA_VISIBLE_DEVICES' ids when set); 0 where there is no
 * nvidia-smi (no NVIDIA driver) or it fails.
 */
export function nvidiaGpus(visible = visibleAtStart): string[] {
  let out: string;
  try {
    out = execFileSync("nvidia-smi", ["-L"], {
      encoding: "utf8",
      timeout: 10_000,
      stdio: ["ignore", "pipe", "ignore"],
    });
  } catch {
    return [];
  }
  const gpus = out.split("\n").filter((l) => /^GPU \d+:/.test(l));
  if (visible === undefined) return gpus;
  const ids = visible.split(",").map((s) => s.trim());
  return gpus.filter((l, i) => ids.includes(String(i)) || ids.some((id) => id && l.includes(id)));
}

/** One helper (thread or child process) with numbered requests; a crash or error rejects every open request. */
export class WorkerClient {
  private next = 0;
  private readonly pending = new Map<number, Pending>();
  private failed: Error | undefined;

  private constructor(
    private readonly channel: Channel,
    /** How errors name this helper: "worker thread" or "device 1 (child process 1234, CUDA_VISIBLE_DEVICES=1)". */
    readonly label: string,
  ) {
    channel.onMessage((m) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(`${label}: ${m.error}`));
    });
    channel.onGone((why, err) => {
      if (this.failed) return;
      this.failed = new Error(`${label} ${why}`, err ? { cause: err } : undefined);
      for (const p of this.pending.values()) p.reject(this.failed);
      this.pending.clear();
    });
  }

  /**
   * A worker thread, or with `device` a child process pinned to device `index` (deviceEnv) whose large
   * arrays pass through the folder `spool` (ipc-spool.ts).
   */
  static start(
    entry: { url: URL; execArgv: string[] },
    device?: { index: number; spool: string },
  ): WorkerClient {
    if (device === undefined) return new WorkerClient(threadChannel(entry), "worker thread");
    const env = deviceEnv(device.index);
    const channel = processChannel(entry, env, device.spool);
    return new WorkerClient(
      channel,
      `device ${device.index} (child process ${channel.pid}, CUDA_VISIBLE_DEVICES=${env.CUDA_VISIBLE_DEVICES})`,
    );
  }

  /** The child process behind a device helper; undefined for a thread. */
  get pid(): number | undefined {
    return this.channel.pid;
  }

  /** Send a request; resolves with the helper's answer. Listed buffers are moved to a thread, not copied. */
  call<T>(message: object, transfer: ArrayBuffer[] = []): Promise<T> {
    return this.post<T>(message, transfer).answer;
  }

  /**
   * Send a request: `sent` resolves once it has left this process, `answer` with the helper's answer.
   * A caller about to compute for long without yielding awaits `sent` first: a child process's message
   * is written on this event loop, so a computation started before the write is done holds the rest
   * of it back, and the child starts its share only when the computation ends (in turn, not at once).
   */
  post<T>(message: object, transfer: ArrayBuffer[] = []): { sent: Promise<void>; answer: Promise<T> } {
    if (this.failed) return { sent: Promise.resolve(), answer: Promise.reject(this.failed) };
    const id = this.next++;
    let sent: Promise<void> = Promise.resolve();
    const answer = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      sent = this.channel.send({ id, ...message }, transfer);
    });
    return { sent, answer };
  }

  async close(): Promise<void> {
    this.failed ??= new Error(`${this.label} was closed`);
    await this.channel.close();
  }
}

/**
 * `threads - 1` helpers (the caller is the first), each sent `init` at start: worker threads, or with
 * kind "process" child processes pinned to devices 1 … threads-1 (the caller is device 0). Their setup
 * (tfjs and its backend in a fresh thread or process) overlaps the caller's; `ready()` is awaited
 * before use and resolves with each helper's answer to `init`.
 */
export class WorkerPool {
  private readonly init: Promise<unknown[]>;
  readonly workers: WorkerClient[];
  // which worker threads keep the step's shared payload already (postStep)
  private readonly handed: boolean[] = [];
  // process helpers: the folder their large arrays pass through (ipc-spool.ts)
  private readonly spool: string | undefined;

  constructor(
    entry: { url: URL; execArgv: string[] },
    threads: number,
    init: object,
    readonly kind: HelperKind = "thread",
  ) {
    const spool = kind === "process" && threads > 1 ? openSpool() : undefined;
    this.spool = spool;
    this.workers = Array.from({ length: threads - 1 }, (_, i) =>
      WorkerClient.start(entry, spool === undefined ? undefined : { index: i + 1, spool }),
    );
    this.init = Promise.all(this.workers.map((w) => w.call(init)));
    this.init.catch(() => {}); // reported by ready(), not as an unhandled rejection
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  /** Resolves with each helper's answer to `init` (helper 1 first). */
  async ready(): Promise<unknown[]> {
    return this.init;
  }

  /**
   * One data-parallel step: `requests[i]` to helper i (at most one each), each with `shared` (the step's weights) and
   * `out: outs[i]` (its gradient buffer) as `m.shared` — every step to a process, the first step
   * only to a worker thread, whose shared buffers stay in place (host-buffers.ts; the helper's side
   * is `keptPayload`). Resolves once every request has left this process, so that the caller's own
   * shard, synchronous work that never yields, cannot hold a child's back (WorkerClient.post); the
   * answers are still to come. A worker thread's answer has its `grads` in `outs[i]`.
   */
  async postStep<A extends { grads?: Float32Array }>(
    shared: object,
    outs: Float32Array[],
    requests: object[],
  ): Promise<Promise<A & { grads: Float32Array }>[]> {
    if (requests.length > this.workers.length)
      throw new Error(`postStep: ${requests.length} requests for ${this.workers.length} helpers`);
    // a step smaller than the pool leaves the last helpers idle
    const posted = requests.map((request, i) => {
      const kept = this.kind === "thread" && this.handed[i];
      this.handed[i] = true;
      return (this.workers[i] as WorkerClient).post<A & { grads: Float32Array }>({
        type: "step",
        ...request,
        ...(!kept && { shared: { ...shared, out: outs[i] } }),
      });
    });
    const answers = posted.map(({ answer }, i) =>
      this.kind === "thread" ? answer.then((a) => ({ ...a, grads: outs[i] as Float32Array })) : answer,
    );
    // awaited after the caller's shard: a helper failing meanwhile is reported then, not as unhandled
    for (const a of answers) a.catch(() => {});
    await Promise.all(posted.map((p) => p.sent));
    return answers;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
    if (this.spool) closeSpool(this.spool);
  }
}

/**
 * A helper's side of WorkerPool.postStep: returns the step's shared payload, the one a request
 * carries or, for a worker thread, the one kept from its first step.
 */
export function keptPayload<S extends object>(name: string): (m: Record<string, unknown>) => S {
  let kept: S | undefined;
  return (m) => {
    if (m.shared) kept = m.shared as S;
    if (!kept) throw new Error(`${name}: a step before any step with the weights`);
    return kept;
  };
}

/**
 * A helper's side of WorkerPool.postStep: where each step's gradients go — the caller's shared buffer
 * (`out`, a worker thread's), else one buffer of the helper's own (a process's), kept from step to
 * step because the answer is copied out before the next request is taken.
 */
export function gradientBuffer(): (out: Float32Array | undefined, length: number) => Float32Array {
  let own: Float32Array | undefined;
  return (out, length) => {
    if (out) return out;
    if (own?.length !== length) own = new Float32Array(length);
    return own;
  };
}

/**
 * A helper's answer to a step: gradients written into the caller's shared buffer are not sent back
 * (every SharedArrayBuffer a message carries becomes a new object of the receiving isolate); others
 * move with the answer, as do the `transfer` buffers.
 */
export function stepAnswer<R extends { grads: Float32Array }>(
  r: R,
  transfer: ArrayBuffer[],
): { value: unknown; transfer: ArrayBuffer[] } {
  if (isShared(r.grads)) return { value: { ...r, grads: undefined }, transfer };
  return { value: r, transfer: [...transfer, r.grads.buffer as ArrayBuffer] };
}

/** The channel a helper answers on: its worker thread's parentPort, or its parent process's IPC channel. */
export function parentChannel(): RequestPort | undefined {
  if (parentPort) return parentPort;
  const send = process.send?.bind(process);
  if (!send) return undefined;
  // the parent going away (closed pool, crashed trainer) must not leave this process running
  process.once("disconnect", () => process.exit(0));
  // large arrays both ways through the parent's spool folder (ipc-spool.ts)
  const spool = process.env[SPOOL_ENV];
  return {
    on: (_event, f) => process.on("message", (m) => f((spool ? spoolIn(m) : m) as { id: number })),
    postMessage: (m) => send(spool ? spoolOut(m, spool) : m),
  };
}

interface RequestPort {
  on(event: "message", f: (m: { id: number }) => void): void;
  postMessage(m: unknown, t?: ArrayBuffer[]): void;
}

/** The worker side: answer each request with `handle`'s result (or its error message). */
export function serveRequests(
  port: RequestPort,
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
