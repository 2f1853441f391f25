import { Random } from "@laion/mixer";
import { describe, expect, test } from "vitest";
import { reluConv } from "../src/fused-conv.js";
import { selectBackend } from "../src/index.js";
import * as tf from "../src/tfjs.js";

// reluConv (one FusedConv2D also under a gradient tape) against tfjs's own conv2d + add + relu.

const rng = new Random(7);
const values = (n: number) => Float32Array.from({ length: n }, () => rng.normal());

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe.each(["cpu", "wasm"] as const)("reluConv on %s", (backend) => {
  test.each([
    { stride: 1, constantInput: false },
    { stride: 2, constantInput: false },
    { stride: 1, constantInput: true },
  ])("value and gradients equal conv2d + bias + relu's, %o", async ({ stride, constantInput }) => {
    await selectBackend({ prefer: backend });
    const x = tf.tensor4d(values(2 * 8 * 6 * 3), [2, 8, 6, 3]);
    const w = tf.tensor4d(values(3 * 3 * 3 * 4), [3, 3, 3, 4]);
    // a bias that leaves some pre-activations negative, so the mask matters
    const b = tf.tensor1d(values(4));
    const r = tf.tensor4d(values(2 * (8 / stride) * (6 / stride) * 4), [2, 8 / stride, 6 / stride, 4]);
    // the gradients of Σ r·f(x, w, b) w.r.t. (x,) w, b: with a constant input, x's is not computed
    const gradients = (f: (x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D) => tf.Tensor) =>
      constantInput
        ? tf.grads((ww: tf.Tensor, bb: tf.Tensor) =>
            tf.sum(tf.mul(f(x, ww as tf.Tensor4D, bb as tf.Tensor1D), r)),
          )([w, b])
        : tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
            tf.sum(tf.mul(f(xx as tf.Tensor4D, ww as tf.Tensor4D, bb as tf.Tensor1D), r)),
          )([x, w, b]);
    const fused = (xx: tf.Tensor4D, ww: tf.Tensor4D, bb: tf.Tensor1D) =>
      reluConv(xx, ww, bb, { stride, constantInput });
    const plain = (xx: tf.Tensor4D, ww: tf.Tensor4D, bb: tf.Tensor1D) =>
      tf.relu(tf.add(tf.conv2d(xx, ww, stride, "same"), bb));
    expect(maxAbsDiff(fused(x, w, b).dataSync(), plain(x, w, b).dataSync())).toBeLessThan(1e-4);
    const got = gradients(fused);
    const want = gradients(plain);
    expect(got.length).toBe(constantInput ? 2 : 3);
    for (const [i, g] of got.entries())
      expect(maxAbsDiff(g.dataSync(), (want[i] as tf.Tensor).dataSync())).toBeLessThan(1e-3);
  });
});
