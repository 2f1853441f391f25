import type { Batch } from "./sequences.js";

/** Per-source unigram model of the tokens seen in training (add-½ smoothing): the baseline for held-out loss. */
export class UnigramBaseline {
  private counts = new Map<string, Float64Array>();
  constructor(private readonly V: number) {}
  add(batch: Batch) {
    for (let i = 0; i < batch.targets.length; i++) {
      if (!batch.lossMask[i]) continue;
      const s = batch.sources[batch.sourceIdx[i]!]!;
      let c = this.counts.get(s);
      if (!c) {
        c = new Float64Array(this.V + 1);
        this.counts.set(s, c);
      }
      c[batch.targets[i]!]!++;
      c[this.V]!++;
    }
  }
  loss(batches: Batch[]): Record<string, number> {
    const sum: Record<string, [number, number]> = {};
    for (const b of batches) {
      for (let i = 0; i < b.targets.length; i++) {
        if (!b.lossMask[i]) continue;
        const s = b.sources[b.sourceIdx[i]!]!;
        const c = this.counts.get(s);
        const p = c ? (c[b.targets[i]!]! + 0.5) / (c[this.V]! + 0.5 * this.V) : 1 / this.V;
        const e = sum[s] ?? [0, 0];
        sum[s] = e;
        e[0] -= Math.log(p);
        e[1]++;
      }
    }
    return Object.fromEntries(Object.entries(sum).map(([k, [l, n]]) => [k, l / n]));
  }
}
