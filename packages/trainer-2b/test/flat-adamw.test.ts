import { Random } from "@laion/mixer";
import type * as TF from "@tensorflow/tfjs-core";
import { expect, test } from "vitest";
import { type FlatHeld, flatLayout, runFlatOp } from "../src/flat-adamw.js";
import { AdamW, clipByGlobalNorm, clipScale } from "../src/optim.js";
import { cpuTf } from "./helpers.js";

// The data-parallel threads' optimizer step (sum of the threads' gradients, global norm, clip, AdamW
// over flat buffers, each thread a range) must update like AdamW's tensor ops on one thread.

const shapes = { "w.matrix": [7, 5], "w.gain": [5], "w.frozen": [3, 2], "w.last": [4, 3] };

test("flat AdamW over ranges ≡ AdamW: clipped, decaying matrices only, frozen parameters untouched", async () => {
  const tf = await cpuTf();
  const rng = new Random(7);
  const params = new Map<string, TF.Variable>();
  for (const [name, shape] of Object.entries(shapes)) {
    const size = shape.reduce((a, b) => a * b, 1);
    params.set(name, tf.variable(tf.tensor(rng.normals(size, 1), shape), name !== "w.frozen", name));
  }
  const layout = flatLayout(params);
  const n = layout.at(-1)!.offset + layout.at(-1)!.size;
  const flat = (f: (name: string, size: number) => ArrayLike<number>) => {
    const out = new Float32Array(new SharedArrayBuffer(n * 4));
    let at = 0;
    for (const [name, p] of params) {
      out.set(f(name, p.size), at);
      at += p.size;
    }
    return out;
  };
  const reference = new AdamW(tf, params, { weightDecay: 0.1 });
  const weights = flat((name) => params.get(name)!.dataSync());
  const held: FlatHeld = {
    layout,
    state: {
      weights,
      m: flat((_, k) => new Float32Array(k)),
      v: flat((_, k) => new Float32Array(k)),
      grads: [],
    },
  };
  const shadow = new AdamW(tf, params, { weightDecay: 0.1 });
  await shadow.holdIn(held.state);
  for (let step = 0; step < 3; step++) {
    // two threads' gradients (none for the frozen parameter), summed by the flat pass
    const parts = [0, 1].map(() =>
      flat((name, k) => (name === "w.frozen" ? new Float32Array(k) : rng.normals(k, 2))),
    );
    const grads: Record<string, TF.Tensor> = {};
    let at = 0;
    for (const [name, p] of params) {
      if (p.trainable)
        grads[name] = tf
          .add(parts[0]!.subarray(at, at + p.size), parts[1]!.subarray(at, at + p.size))
          .reshape(p.shape);
      at += p.size;
    }
    held.state.grads = parts;
    const lr = 0.01 * (step + 1);
    // the reference clips (the norm is ~10, the clip 1) and updates the variables
    const { norm, grads: clipped } = await clipByGlobalNorm(tf, grads, 1);
    reference.apply(clipped, lr);
    // the flat pass in three ranges that cut through parameters, as three threads would
    const cuts = [0, 10, 41, n];
    const squares = cuts.slice(1).map((to, i) => runFlatOp(held, { type: "reduce" }, cuts[i]!, to));
    const flatNorm = Math.sqrt(squares.reduce((a, b) => a + b));
    expect(flatNorm).toBeCloseTo(norm, 4);
    const hyper = shadow.nextUpdate(lr, clipScale(flatNorm, 1));
    for (let i = 0; i + 1 < cuts.length; i++)
      runFlatOp(held, { type: "adam", hyper }, cuts[i]!, cuts[i + 1]!);
  }
  const expected = flat((name) => params.get(name)!.dataSync());
  const diff = expected.reduce((m, x, j) => Math.max(m, Math.abs(x - weights[j]!)), 0);
  expect(diff).toBeLessThan(1e-5);
  // the frozen parameter kept its values, bit for bit
  const frozen = layout[2]!;
  expect(weights.subarray(frozen.offset, frozen.offset + frozen.size)).toEqual(
    expected.subarray(frozen.offset, frozen.offset + frozen.size),
  );
  // the moments as a checkpoint reads them
  const mine = shadow.moments();
  const theirs = reference.moments();
  expect(mine.step).toBe(3);
  for (const name of params.keys()) {
    const [a, b] = await Promise.all([mine.v.get(name)!.data(), theirs.v.get(name)!.data()]);
    expect(Array.from(a).every((x, j) => Math.abs(x - b[j]!) < 1e-6)).toBe(true);
  }
  expect(() => shadow.apply({}, 0.1)).toThrow(/held by a data-parallel trainer/);
});
