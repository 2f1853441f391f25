// Seeded randomness (never Math.random) over @laion/mixer's xoshiro128**, the one PRNG of the
// repository; its state is four uint32s, written into a checkpoint and resumed exactly.
import { createRng as createXoshiro, type RngState } from "@laion/mixer";

export type { RngState };

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  state(): RngState;
}

export function createRng(seed: number, state?: RngState): Rng {
  const inner = createXoshiro(state ?? seed >>> 0);
  return { next: () => inner.nextFloat(), state: () => inner.state() };
}

/** n samples of N(0, std²) (Box–Muller), as float32. */
export function normal(rng: Rng, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rng.next(), 1e-12);
    const v = rng.next();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}
