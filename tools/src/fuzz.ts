// What the seeded fuzz suites of @laion/fetch and @laion/shards share: how many cases a property runs,
// and the guard that turns a hang on damaged input into a failed case naming the input.

/** The seed every fuzz property starts from, so a failure replays exactly (fast-check prints the case). */
export const FUZZ_SEED = 15;

/**
 * Cases per property: `FUZZ_RUNS` from the environment (a longer hunt: `FUZZ_RUNS=2000 npx vitest run
 * test/fuzz.test.ts`), else `fallback` — small enough for CI.
 */
export function fuzzRuns(fallback = 40): number {
  const raw = process.env.FUZZ_RUNS;
  if (raw === undefined || raw === "") return fallback;
  const runs = Number(raw);
  if (!Number.isSafeInteger(runs) || runs < 1)
    throw new Error(`FUZZ_RUNS must be a whole number ≥ 1, got "${raw}"`);
  return runs;
}

/** A read that did not finish in time: the case fails with this, never the suite with a timeout. */
export class HangError extends Error {
  constructor(what: string, ms: number) {
    super(`hang: ${what} not read within ${ms} ms`);
    this.name = "HangError";
  }
}

/** `work`'s result, or a HangError naming `what` when `ms` pass first; the timer never outlives the race. */
export async function withinTime<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HangError(what, ms)), ms);
  });
  try {
    return await Promise.race([work, hang]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A copy of `bytes` with the given bits flipped, each taken modulo the bits of `[from, from + span)` (the
 * whole buffer by default): fast-check draws plain numbers, so a shrunk case stays readable.
 */
export function flipBits(
  bytes: Uint8Array,
  bits: readonly number[],
  from = 0,
  span = bytes.length - from,
): Buffer {
  const out = Buffer.from(bytes);
  if (span <= 0) return out;
  for (const bit of bits) {
    const i = bit % (span * 8);
    out[from + (i >> 3)]! ^= 1 << (i & 7);
  }
  return out;
}
