import { createRng, type RngState, seedFrom, type Rng as Xoshiro } from "@laion/mixer";

/**
 * The training's seeded randomness (crops, flips, init, restarts) over @laion/mixer's xoshiro128**,
 * the one PRNG of the repository: all randomness comes from an explicit seed, and the state is a
 * small JSON string stored in the checkpoint for `--resume`.
 */
export class Rng {
  private inner: Xoshiro;
  constructor(seed: number | RngState) {
    this.inner = createRng(typeof seed === "number" ? seed >>> 0 : seed);
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.inner.nextFloat();
  }
  /** Integer in [0, n) (0 when n ≤ 1). */
  int(n: number): number {
    return n <= 1 ? 0 : this.inner.nextInt(Math.floor(n));
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  /** A new generator whose stream is independent of this one's remaining draws (this one is not advanced). */
  fork(salt: number): Rng {
    const [a = 0, b = 0] = this.inner.state();
    return new Rng(seedFrom(a * 2097152 + (b >>> 11), salt >>> 0));
  }
  getState(): string {
    return JSON.stringify(this.inner.state());
  }
  static fromState(state: string): Rng {
    return new Rng(JSON.parse(state) as RngState);
  }
}

/** FNV-1a hash of a string, for deterministic held-out splits by sample key. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
