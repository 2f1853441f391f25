import { Random } from "@laion/mixer";
import { beforeAll, describe, expect, test } from "vitest";
import { selectBackend } from "../src/index.js";
import * as tf from "../src/tfjs.js";

// The wasm kernels we register (or replace) must agree with the reference cpu backend.

function randomArray(n: number, seed: number): Float32Array {
  const rng = new Random(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

async function onBackend<T>(name: "cpu" | "wasm", f: () => T): Promise<T> {
  await selectBackend({ prefer: name });
  return f();
}

interface ConvCase {
  x: [number, number, number, number];
  k: number;
  co: number;
  stride: number;
  pad: "same" | "valid";
}

const cases: ConvCase[] = [
  { x: [2, 8, 8, 3], k: 3, co: 4, stride: 1, pad: "same" },
  { x: [2, 8, 8, 5], k: 3, co: 6, stride: 2, pad: "same" },
  // the sub-pixel input gradient (stride 2, 3×3, even sizes), not square
  { x: [2, 16, 12, 3], k: 3, co: 4, stride: 2, pad: "same" },
  { x: [1, 9, 7, 4], k: 3, co: 3, stride: 2, pad: "same" },
  { x: [2, 9, 9, 2], k: 3, co: 5, stride: 2, pad: "valid" },
  { x: [1, 10, 10, 3], k: 4, co: 2, stride: 2, pad: "same" },
  { x: [3, 6, 6, 4], k: 1, co: 8, stride: 1, pad: "same" },
  { x: [1, 7, 7, 2], k: 3, co: 2, stride: 1, pad: "valid" },
];

/** Gradients of Σ r·conv2d(x, w) w.r.t. x (Conv2DBackpropInput) and w (Conv2DBackpropFilter). */
function convGrads(c: ConvCase, seed: number): { dx: Float32Array; dw: Float32Array; y: Float32Array } {
  return tf.tidy(() => {
    const ci = c.x[3];
    const x = tf.tensor4d(
      randomArray(
        c.x.reduce((a, b) => a * b),
        seed,
      ),
      c.x,
    );
    const w = tf.tensor4d(randomArray(c.k * c.k * ci * c.co, seed + 1), [c.k, c.k, ci, c.co]);
    const y = tf.conv2d(x, w, c.stride, c.pad);
    const r = tf.tensor(randomArray(y.size, seed + 2), y.shape);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), r)),
    );
    const [dx, dw] = g([x, w]);
    return {
      dx: dx?.dataSync() as Float32Array,
      dw: dw?.dataSync() as Float32Array,
      y: y.dataSync() as Float32Array,
    };
  });
}

describe("wasm kernels match the cpu backend", () => {
  beforeAll(async () => {
    await selectBackend({ prefer: "wasm" });
  });

  test.each(cases.map((c, i) => [i, c] as const))("conv2d gradients, case %i %o", async (i, c) => {
    const ref = await onBackend("cpu", () => convGrads(c, 10 + i));
    const got = await onBackend("wasm", () => convGrads(c, 10 + i));
    expect(maxAbsDiff(got.y, ref.y)).toBeLessThan(1e-3);
    expect(maxAbsDiff(got.dx, ref.dx)).toBeLessThan(1e-3);
    expect(maxAbsDiff(got.dw, ref.dw)).toBeLessThan(1e-3);
  });

  test("UnsortedSegmentSum (gather's gradient) incl. repeated and out-of-range ids", async () => {
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor2d(randomArray(7 * 3, 5), [7, 3]);
        const ids = tf.tensor1d([0, 4, 4, 1, 0, 9, 2], "int32");
        const direct = tf.unsortedSegmentSum(x, ids, 5).dataSync();
        const table = tf.tensor2d(randomArray(6 * 4, 6), [6, 4]);
        const idx = tf.tensor1d([5, 0, 5, 5, 2], "int32");
        const dy = tf.tensor2d(randomArray(5 * 4, 7), [5, 4]);
        const viaGather = tf
          .grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, idx), dy)))(table)
          .dataSync();
        return { direct: Float32Array.from(direct), viaGather: Float32Array.from(viaGather) };
      });
    const ref = await onBackend("cpu", run);
    const got = await onBackend("wasm", run);
    expect(maxAbsDiff(got.direct, ref.direct)).toBeLessThan(1e-5);
    expect(maxAbsDiff(got.viaGather, ref.viaGather)).toBeLessThan(1e-5);
  });

  // The oracle for the gradient of a whole-factor upsampling is the sum of each pixel's f×f copies,
  // written with reshape + sum: tfjs-backend-cpu's ResizeNearestNeighborGrad reads dy at the images'
  // batch stride, so its answer is wrong for every image after the first.
  test.each([
    { x: [2, 4, 5, 3], size: [8, 10] }, // the decoder's ×2
    { x: [1, 3, 2, 4], size: [6, 6] }, // different factors per axis
  ] as { x: [number, number, number, number]; size: [number, number] }[])(
    "nearest-neighbour upsampling by whole factors %o and its gradient",
    async ({ x, size }) => {
      const [n, h, w, c] = x;
      const [fh, fw] = [size[0] / h, size[1] / w];
      const run = () =>
        tf.tidy(() => {
          const input = tf.tensor4d(
            randomArray(
              x.reduce((a, b) => a * b),
              21,
            ),
            x,
          );
          const up = tf.image.resizeNearestNeighbor(input, size);
          const r = tf.tensor(randomArray(up.size, 22), up.shape);
          const grad = tf.grad((t: tf.Tensor) =>
            tf.sum(tf.mul(tf.image.resizeNearestNeighbor(t as tf.Tensor4D, size), r)),
          )(input);
          const blocks = tf.sum(tf.reshape(r, [n, h, fh, w, fw, c]), [2, 4]);
          return {
            up: Float32Array.from(up.dataSync()),
            grad: Float32Array.from(grad.dataSync()),
            blocks: Float32Array.from(blocks.dataSync()),
          };
        });
      const ref = await onBackend("cpu", run);
      const got = await onBackend("wasm", run);
      expect(maxAbsDiff(got.up, ref.up)).toBe(0);
      expect(maxAbsDiff(got.grad, ref.blocks)).toBeLessThan(1e-5);
    },
  );

  test("nearest-neighbour resizing by other factors is left to the built-in kernel", async () => {
    const run = () =>
      tf.tidy(() => {
        const input = tf.tensor4d(randomArray(4 * 4 * 2, 23), [1, 4, 4, 2]);
        const f = (t: tf.Tensor) => tf.image.resizeNearestNeighbor(t as tf.Tensor4D, [6, 7]);
        const r = tf.tensor(randomArray(6 * 7 * 2, 24), [1, 6, 7, 2]);
        const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), r)))(input);
        return { up: Float32Array.from(f(input).dataSync()), grad: Float32Array.from(grad.dataSync()) };
      });
    const ref = await onBackend("cpu", run);
    const got = await onBackend("wasm", run);
    expect(maxAbsDiff(got.up, ref.up)).toBe(0);
    expect(maxAbsDiff(got.grad, ref.grad)).toBeLessThan(1e-5);
  });

  test.each([
    { a: [2, 3, 5, 4], b: [2, 3, 4, 6], tA: false, tB: false }, // attention's per-head products
    { a: [2, 3, 5, 4], b: [2, 3, 6, 4], tA: false, tB: true }, // q·kᵀ
    { a: [6, 4, 5], b: [6, 4, 3], tA: true, tB: false }, // pᵀ·dO
    { a: [6, 4, 5], b: [6, 3, 4], tA: true, tB: true },
    { a: [7, 5], b: [7, 3], tA: true, tB: false }, // xᵀ·dy, unbatched
    { a: [5, 7], b: [3, 7], tA: false, tB: true }, // dy·Wᵀ, unbatched
    { a: [4, 5, 7], b: [7, 3], tA: false, tB: false }, // B broadcast over A's batch
    { a: [5, 7], b: [4, 7, 3], tA: false, tB: false }, // A broadcast over B's batch
    { a: [5, 7], b: [7, 3], tA: false, tB: false }, // the built-in fast path
  ])("BatchMatMul %o", async ({ a, b, tA, tB }) => {
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor(
          randomArray(
            a.reduce((p, q) => p * q),
            31,
          ),
          a,
        );
        const y = tf.tensor(
          randomArray(
            b.reduce((p, q) => p * q),
            32,
          ),
          b,
        );
        return Float32Array.from(tf.matMul(x, y, tA, tB).dataSync());
      });
    const ref = await onBackend("cpu", run);
    const got = await onBackend("wasm", run);
    expect(maxAbsDiff(got, ref)).toBeLessThan(1e-4);
  });

  test("a clone shares its buffer and outlives the original", async () => {
    await selectBackend({ prefer: "wasm" });
    const before = tf.memory().numTensors;
    const buffers = () => (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
    const a = tf.tensor1d([1, 2, 3]);
    const held = buffers();
    const b = tf.clone(a);
    expect(buffers()).toBe(held);
    const c = tf.add(b, 1);
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3]);
    expect(Array.from(c.dataSync())).toEqual([2, 3, 4]);
    b.dispose();
    c.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // strings are not on the wasm heap: the built-in kernel still copies them
    const s = tf.tensor1d(["x", "y"], "string");
    expect(tf.clone(s).dataSync()).toEqual(["x", "y"]);
  });

  test("registering twice is harmless", async () => {
    await selectBackend({ prefer: "wasm" });
    const { registerWasmKernels } = await import("../src/wasm-kernels.js");
    registerWasmKernels(tf);
    registerWasmKernels(tf);
    const got = await onBackend("wasm", () => convGrads(cases[1] as ConvCase, 3));
    const ref = await onBackend("cpu", () => convGrads(cases[1] as ConvCase, 3));
    expect(maxAbsDiff(got.dx, ref.dx)).toBeLessThan(1e-3);
  });
});
