import v8 from "node:v8";
import vm from "node:vm";
import { FetchError } from "./errors.js";

// V8 lets the old generation grow by at least 8 MB past what the last full GC left before it collects
// again (MinimumAllocationLimitGrowingStep; --heap-growing-percent lowers only the proportional part),
// and a long fetch promotes a steady trickle of its rows' strings (~100 MB per million rows read), so the
// old generation of a 10M-row fetch swung 10 → 23 MB where a 10k-row fetch never left 10. Starting a
// concurrent (incremental) full GC ourselves once it has grown 2 MB narrows that swing: 1M rows, three
// alternating rounds at load ~12: peak RSS 116 → 110 MB for ~+10 % CPU (4 MB: 113 MB, +3 %; 1 MB: no
// lower than 2). Each is a full mark of a ~12 MB live heap, mostly on V8's helper thread.
//
// It drives the whole process's GC, so a library must not do it behind its host's back: it is off
// unless the caller asks (`memory.gcStepMb`); the bin and the app, whose processes are their own, do.

export type GcFunction = (options: { type: "major"; execution: "async" }) => void;

/**
 * V8's own gc() (a JS binding of a full GC): the global one when node runs with --expose-gc, else one
 * made visible in a fresh vm context only (the flag is set for the moment of its creation, as Jest does
 * for --logHeapUsage). Null if neither works.
 */
function findGcFunction(): GcFunction | null {
  const global = (globalThis as { gc?: GcFunction }).gc;
  if (global) return global;
  try {
    v8.setFlagsFromString("--expose-gc");
    const made = vm.runInNewContext("gc") as GcFunction | undefined;
    v8.setFlagsFromString("--no-expose-gc");
    return typeof made === "function" ? made : null;
  } catch {
    return null;
  }
}

let found: GcFunction | null | undefined;
/** `findGcFunction`, asked once per process (each call would make a vm context). */
export function gcFunction(): GcFunction | null {
  if (found === undefined) found = findGcFunction();
  return found;
}

function oldSpaceUsed(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === "old_space")?.space_used_size ?? 0;
}

export interface OldSpaceLimiterParams {
  /** Growth past the lowest size seen since the last GC started that starts the next. */
  step: number;
  /** The old generation's used bytes now. */
  used: () => number;
  /** Where the GC function comes from (asked once, when first needed). */
  gc: () => GcFunction | null;
}

/** A tick that starts a concurrent full GC when the old generation has grown `step` past its floor. */
export function oldSpaceLimiter(p: OldSpaceLimiterParams): () => void {
  let floor = Number.POSITIVE_INFINITY;
  let gc: GcFunction | null | undefined;
  return () => {
    const used = p.used();
    if (used < floor) floor = used;
    if (used - floor < p.step) return;
    if (gc === undefined) gc = p.gc();
    gc?.({ type: "major", execution: "async" });
    // what it leaves becomes the next floor; until then this is the best guess
    floor = used;
  };
}

/** How a fetch may manage its process's memory; every field is off unless given. */
export interface FetchMemoryParams {
  /**
   * Start a concurrent full GC (V8's own `gc()`, reached without `--expose-gc`) whenever the old
   * generation has grown this many MB past the lowest size seen since the last one. It acts on the
   * whole process, so it is for processes that are the fetch's own (the bin and the app use 2:
   * peak RSS 116 → 110 MB over 1M rows for ~10 % more CPU). Off by default.
   */
  gcStepMb?: number;
}

/** What the bin uses, and what a caller whose process does nothing else can pass as `memory`. */
export const OWN_PROCESS_MEMORY: Readonly<FetchMemoryParams> = Object.freeze({ gcStepMb: 2 });

/** Refuses settings that are not numbers > 0, naming the field. */
export function checkMemoryParams(memory: FetchMemoryParams | undefined): void {
  const stepMb = memory?.gcStepMb;
  if (stepMb === undefined) return;
  if (typeof stepMb !== "number" || !(stepMb > 0) || !Number.isFinite(stepMb))
    throw new FetchError(`memory.gcStepMb must be a number > 0 (MB), got ${String(stepMb)}`);
}

/**
 * The tick `writeFiltered` calls between batches for these settings (none when no GC step is asked):
 * one heap-space query per call, a GC started when the old generation has grown the step.
 */
export function memoryTick(memory: FetchMemoryParams | undefined): (() => void) | undefined {
  checkMemoryParams(memory);
  const stepMb = memory?.gcStepMb;
  if (stepMb === undefined) return undefined;
  return oldSpaceLimiter({ step: stepMb * 2 ** 20, used: oldSpaceUsed, gc: gcFunction });
}
