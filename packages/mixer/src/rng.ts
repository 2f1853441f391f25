/**
 * xoshiro128** (Blackman & Vigna, 2018): a small, well-studied 32-bit PRNG whose
 * arithmetic is all `Math.imul`, shifts and xors on 32-bit integers, so every
 * JavaScript engine on every platform produces the same numbers from the same state.
 * Seeds are expanded to the 128-bit state with splitmix32, the expansion its authors recommend.
 */

/** The complete generator state: four unsigned 32-bit words (not all zero). JSON-safe. */
export type RngState = [number, number, number, number];

export interface Rng {
  /** A uniform integer in [0, 2^32). */
  nextUint32(): number;
  /** A uniform float in [0, 1) with 53 random bits (two 32-bit draws). */
  nextFloat(): number;
  /** A uniform integer in [0, n) for 1 ≤ n ≤ 2^32, without modulo bias (rejection sampling). */
  nextInt(n: number): number;
  /** A copy of the state; `createRng(rng.state())` continues the identical sequence. */
  state(): RngState;
}

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

/** splitmix32's output function: a bijection on 32-bit integers with good avalanche. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
  return (x ^ (x >>> 15)) | 0;
}

/** Expands a safe-integer seed (its low and high 32 bits) to a 128-bit state. */
function seedState(seed: number): RngState {
  let lo = seed >>> 0;
  let hi = Math.floor(seed / TWO_POW_32) | 0;
  const words: number[] = [];
  for (let i = 0; i < 4; i++) {
    lo = (lo + 0x9e3779b9) | 0;
    hi = (hi + 0x6a09e667) | 0;
    words.push((mix32(lo) ^ mix32(hi ^ 0x5bd1e995)) >>> 0);
  }
  // xoshiro's only forbidden state; unreachable in practice, but cheap to rule out.
  if ((words[0]! | words[1]! | words[2]! | words[3]!) === 0) words[0] = 1;
  return words as RngState;
}

function checkState(state: unknown): RngState {
  const ok =
    Array.isArray(state) &&
    state.length === 4 &&
    state.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32) &&
    state.some((w) => w !== 0);
  if (!ok) {
    throw new Error(
      `createRng: a state must be four unsigned 32-bit integers, not all zero; got ${JSON.stringify(state)}`,
    );
  }
  return [...(state as RngState)];
}

/**
 * A seeded generator. `seed` is any safe integer (the same seed gives the same sequence everywhere),
 * or a state from `rng.state()` to continue where that generator was.
 */
export function createRng(seed: number | RngState): Rng {
  let initial: RngState;
  if (typeof seed === "number") {
    if (!Number.isSafeInteger(seed)) throw new Error(`createRng: seed must be a safe integer, got ${seed}`);
    initial = seedState(seed);
  } else {
    initial = checkState(seed);
  }
  let s0 = initial[0] | 0;
  let s1 = initial[1] | 0;
  let s2 = initial[2] | 0;
  let s3 = initial[3] | 0;

  const nextUint32 = (): number => {
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    return result;
  };

  return {
    nextUint32,
    nextFloat() {
      const a = nextUint32() >>> 5; // 27 bits
      const b = nextUint32() >>> 6; // 26 bits
      return (a * 67108864 + b) / TWO_POW_53;
    },
    nextInt(n) {
      if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
        throw new Error(`Rng.nextInt: n must be an integer in [1, 2^32], got ${n}`);
      }
      // Accept only draws below the largest multiple of n, so every residue is equally likely.
      const limit = TWO_POW_32 - (TWO_POW_32 % n);
      for (;;) {
        const x = nextUint32();
        if (x < limit) return x % n;
      }
    },
    state: () => [s0 >>> 0, s1 >>> 0, s2 >>> 0, s3 >>> 0],
  };
}

/** A seed for a child generator, derived from a parent seed and a stream number (e.g. a nested mixture). */
export function deriveSeed(seed: number, stream: number): number {
  if (!Number.isSafeInteger(seed)) throw new Error(`deriveSeed: seed must be a safe integer, got ${seed}`);
  const [a, b] = seedState(seed);
  // 32 + 21 bits: always a safe integer.
  return ((a ^ mix32(stream + 0x243f6a88)) >>> 0) * 2097152 + (b >>> 11);
}

/** One seed from several integers (seed, epoch, stream tag, rank …): chained `deriveSeed`, so nearby inputs give unrelated streams. */
export function seedFrom(seed: number, ...streams: number[]): number {
  let s = seed;
  for (const stream of streams) s = deriveSeed(s, stream);
  return s;
}

/**
 * A string → uint32 hash for stable per-key decisions (held-out splits, per-sample seeds): FNV-1a over
 * UTF-16 code units, then the murmur3 finaliser, since FNV alone leaves the high bits of similar short
 * keys ("corpus:12", "corpus:13") clustered. Not cryptographic.
 */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/**
 * murmur3's 32-bit finaliser: every input bit moves every output bit. `hashString` ends with it; hashes
 * that mix their own state (fetch's Bloom filter) finish with it too, so there is one copy.
 */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Fisher–Yates shuffle of `items` in place, every permutation equally likely; returns `items`. */
export function shuffleInPlace<T>(items: T[], rng: Rng): T[] {
  for (let n = items.length; n > 1; n--) {
    const j = rng.nextInt(n);
    const tmp = items[n - 1] as T;
    items[n - 1] = items[j] as T;
    items[j] = tmp;
  }
  return items;
}
