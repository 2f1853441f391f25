import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { CliError, OutputBusyError, OutputChangedError } from "@laion/cli-kit";
import { FetchError } from "./errors.js";
import type { FetchStats } from "./types.js";

// Why a worker: a fetch allocates fast, and V8 grows the young generation of the main isolate to its
// maximum (2 × 16 MB semi-spaces), ~30 MB of the peak RSS of a long fetch that only a node flag at
// start-up (the bin's --max-semi-space-size=8) can cap. A worker's isolate takes the cap as a
// resourceLimit, so library callers (the app, `node dist/cli.js`) get it without flags.
/** The worker's young generation, MB: V8's size for an 8 MB semi-space, the bin's flag (measured in docs/benchmarks.md). */
export const WORKER_YOUNG_GENERATION_MB = 24;

export interface FetchResultMessage {
  stats: FetchStats;
  outPath: string;
  statsPath: string;
}

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** The error's own fields (exitCode, output, differences…), as far as they can be cloned. */
  fields: Record<string, unknown>;
}

export type WorkerMessage =
  | { type: "log"; message: string }
  | { type: "progress"; stats: FetchStats }
  | { type: "done"; result: FetchResultMessage }
  | { type: "error"; error: SerializedError };

/** The error classes a fetch throws on purpose, rebuilt by name so that `instanceof` holds in the caller. */
const CLASSES: Record<string, { prototype: Error }> = {
  FetchError,
  OutputChangedError,
  OutputBusyError,
  CliError,
};

export function serializeError(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { name: "Error", message: String(err), fields: {} };
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(err)) {
    try {
      fields[k] = structuredClone(v);
    } catch {
      // not cloneable (a cause holding a socket…): the message already says what happened
    }
  }
  return { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}), fields };
}

/** The worker's error as the caller's: same class (for known ones), message, fields and stack. */
export function deserializeError(e: SerializedError): Error {
  const proto = (CLASSES[e.name] ?? Error).prototype;
  const err = Object.create(proto) as Error;
  Object.defineProperty(err, "message", { value: e.message, writable: true, configurable: true });
  if (e.stack) Object.defineProperty(err, "stack", { value: e.stack, writable: true, configurable: true });
  Object.assign(err, e.fields);
  err.name = e.name;
  return err;
}

/**
 * Whether node already runs with its young generation capped (the bin's `--max-semi-space-size=8`, or
 * the flag in NODE_OPTIONS): then a worker's second isolate would only add its own ~15 MB (measured: the
 * bin at 10M rows 112 MB in-process, 126 MB in a worker).
 */
export function semiSpaceCapped(): boolean {
  return [...process.execArgv, process.env["NODE_OPTIONS"] ?? ""].some((a) =>
    a.includes("max-semi-space-size"),
  );
}

/** The built worker entry beside this module (dist/), or null when running from src (tests: in-process). */
export function workerEntry(): URL | null {
  const url = new URL("./fetch-worker.js", import.meta.url);
  return fs.existsSync(fileURLToPath(url)) ? url : null;
}

export interface RunInWorkerParams {
  entry: URL;
  /** Structured-cloneable parameters (no functions). */
  data: unknown;
  onLog?: (message: string) => void;
  onProgress?: (stats: FetchStats) => void;
}

/** Runs the worker to its end: relays its callbacks, resolves with its result, rejects with its error. */
export function runInWorker(p: RunInWorkerParams): Promise<FetchResultMessage> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(p.entry, {
      workerData: p.data,
      // not the caller's node flags: a test runner's `--conditions=@laion/source` would send the built
      // worker to the TypeScript sources of its dependencies (as @laion/vq's worker pool does)
      execArgv: [],
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    });
    let outcome: { ok: true; result: FetchResultMessage } | { ok: false; error: Error } | undefined;
    worker.on("message", (m: WorkerMessage) => {
      try {
        if (m.type === "log") p.onLog?.(m.message);
        else if (m.type === "progress") p.onProgress?.(m.stats);
        else if (m.type === "done") outcome = { ok: true, result: m.result };
        else outcome = { ok: false, error: deserializeError(m.error) };
      } catch (err) {
        // a callback that throws stops the fetch, as it would in-process (what is written stays staged)
        outcome ??= { ok: false, error: err as Error };
        void worker.terminate();
      }
    });
    worker.on("error", (err) => {
      outcome ??= {
        ok: false,
        error: new FetchError(`the fetch worker thread failed: ${err.message}`, { cause: err }),
      };
    });
    worker.on("exit", (code) => {
      if (outcome?.ok) resolve(outcome.result);
      else
        reject(
          outcome?.error ?? new FetchError(`the fetch worker thread exited with code ${code} and no result`),
        );
    });
  });
}
