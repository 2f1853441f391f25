import { fmix32 } from "@laion/mixer";

/**
 * A Bloom filter over strings, for `--dedupe-urls` in bounded memory. Sized from the expected
 * number of distinct items and a target false-positive rate (m = −n·ln p / ln²2 bits, k = m/n·ln 2
 * hashes). A false positive drops a URL that was in fact new (about `fpr` of the rows); a duplicate
 * is never kept. Past `expectedItems` the false-positive rate rises.
 */
export class BloomFilter {
  readonly bits: number;
  readonly hashes: number;
  private readonly data: Uint8Array;

  constructor(params: { expectedItems: number; fpr: number }) {
    const n = Math.max(1, params.expectedItems);
    const p = Math.min(0.5, Math.max(1e-12, params.fpr));
    this.bits = Math.max(64, Math.ceil((-n * Math.log(p)) / (Math.LN2 * Math.LN2)));
    this.hashes = Math.max(1, Math.round((this.bits / n) * Math.LN2));
    this.data = new Uint8Array(Math.ceil(this.bits / 8));
  }

  /** Bytes held by the bit array. */
  get byteLength(): number {
    return this.data.byteLength;
  }

  /** Adds `key`; returns true when it was (probably) already there. */
  testAndAdd(key: string): boolean {
    return this.probe(key, true);
  }

  /** True when `key` was (probably) added before; false means certainly not. Adds nothing. */
  has(key: string): boolean {
    return this.probe(key, false);
  }

  private probe(key: string, add: boolean): boolean {
    let h1 = 0x811c9dc5;
    let h2 = 0x9747b28c;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 16777619);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      h2 ^= h2 >>> 15;
    }
    h1 = fmix32(h1);
    h2 = fmix32(h2 ^ key.length);
    // Two 53-bit values from the 64 hashed bits, so filters larger than 2^32 bits stay uniform.
    const m = this.bits;
    let idx = (h1 * 2097152 + (h2 >>> 11)) % m;
    const step = (h2 * 2097152 + (h1 >>> 11)) % m || 1;
    let seen = true;
    for (let i = 0; i < this.hashes; i++) {
      const byte = Math.floor(idx / 8);
      const bit = 1 << (idx % 8);
      if ((this.data[byte]! & bit) === 0) {
        seen = false;
        if (!add) return false;
        this.data[byte]! |= bit;
      }
      idx += step;
      if (idx >= m) idx -= m;
    }
    return seen;
  }
}

/** The Bloom filter's default false-positive rate for --dedupe-urls (one home: the CLI, the run and the manifest use it). */
export const DEFAULT_DEDUPE_FPR = 0.001;
