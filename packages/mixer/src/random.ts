import { createRng, type Rng, type RngState, seedFrom } from "./rng";

/**
 * The repository's one seeded-randomness wrapper over xoshiro128** (vq's crops, flips, inits and
 * codebook restarts; trainer-2b's weight init, sampling and data directions): floats, integers,
 * normals and independent forks, with a JSON-safe state for checkpoints.
 */
export class Random {
  private readonly inner: Rng;

  /** A seed (an integer, taken modulo 2^32) or a `state()` to continue from. */
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

  /** One standard normal draw (Box–Muller's cosine half; two uniforms per draw). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** n draws of N(0, std²) as float32, both Box–Muller halves used (two uniforms per pair). */
  normals(n: number, std: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const u = Math.max(this.next(), 1e-12);
      const v = this.next();
      const r = Math.sqrt(-2 * Math.log(u)) * std;
      out[i] = r * Math.cos(2 * Math.PI * v);
      if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
    }
    return out;
  }

  /** A new generator whose stream is independent of this one's remaining draws (this one is not advanced). */
  fork(salt: number): Random {
    const [a = 0, b = 0] = this.inner.state();
    return new Random(seedFrom(a * 2097152 + (b >>> 11), salt >>> 0));
  }

  /** The four state words; `new Random(r.state())` continues the identical sequence. */
  state(): RngState {
    return this.inner.state();
  }

  /** The state as a JSON string (safetensors metadata holds strings only). */
  getState(): string {
    return JSON.stringify(this.inner.state());
  }

  static fromState(state: string): Random {
    return new Random(JSON.parse(state) as RngState);
  }
}
