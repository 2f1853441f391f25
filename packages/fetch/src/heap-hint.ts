import v8 from "node:v8";
import vm from "node:vm";

// V8 lets the old generation grow by at least 8 MB past what the last full GC left before it collects
// again (MinimumAllocationLimitGrowingStep; --heap-growing-percent lowers only the proportional part),
// and a long fetch promotes a steady trickle of its rows' strings (~100 MB per million rows read), so the
// old generation of a 10M-row fetch swung 10 → 23 MB where a 10k-row fetch never left 10. Starting a
// concurrent (incremental) full GC ourselves once it has grown 2 MB narrows that swing: 1M rows, three
// alternating rounds at load ~12: peak RSS 116 → 110 MB for ~+10 % CPU (4 MB: 113 MB, +3 %; 1 MB: no
// lower than 2). Each is a full mark of a ~12 MB live heap, mostly on V8's helper thread.

/** Growth of the old generation past its lowest point since the last GC we started that starts one. */
const STEP = 2 << 20;

export type GcFunction = (options: { type: "major"; execution: "async" }) => void;

/**
 * V8's own gc() (a JS binding of a full GC): the global one when node runs with --expose-gc, else one
 * made visible in a fresh vm context only (the flag is set for the moment of its creation, as Jest does
 * for --logHeapUsage). Null if neither works.
 */
export function gcFunction(): GcFunction | null {
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

/**
 * Called between batches of a long fetch: starts a concurrent full GC when the old generation has grown
 * 2 MB past the lowest size seen since the last one (what a GC left). Cheap otherwise: one heap-space query.
 */
export const limitOldSpaceGrowth = oldSpaceLimiter({ step: STEP, used: oldSpaceUsed, gc: gcFunction });
