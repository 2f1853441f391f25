import { Random } from "@laion/mixer";
import { describe, expect, test } from "vitest";
import { resolveConfig, type VQConfig } from "../src/config.js";
import { selectBackend } from "../src/index.js";
import { decoderForward, encoderForward } from "../src/model.js";
import { emaUpdate, kmeansInit, l2Normalize, quantizeStraightThrough } from "../src/quantizer.js";
import * as tf from "../src/tfjs.js";
import { VQ } from "../src/vq-model.js";
import { webgpuAvailable } from "./webgpu-helpers.js";

// tfjs-backend-webgpu must have every kernel the VQ training graph runs, and its gradient kernels must
// agree with the reference cpu backend. Values are read with `await data()`: webgpu's synchronous read
// needs a browser canvas.

const tiny: Partial<VQConfig> = {
  imageSize: 16,
  downsample: 4,
  channels: [4, 4, 8],
  codebookSize: 8,
  codeDim: 4,
  restartAfter: 1,
};

function randomArray(n: number, seed: number): Float32Array {
  const rng = new Random(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

/** One VQ training step's graph (forward, gradients, EMA update, k-means init) on the current backend. */
async function vqStepKernels(): Promise<string[]> {
  const config = resolveConfig(tiny);
  const model = VQ.create(config, 1);
  const x = tf.tensor4d(randomArray(2 * 16 * 16 * 3, 1), [2, 16, 16, 3]);
  const { kernelNames } = await tf.profile(async () => {
    const z = model.features(x);
    await kmeansInit(model.quant, z, { rng: new Random(1), batches: 1 });
    let kept: [tf.Tensor2D, tf.Tensor1D] | undefined;
    const { grads } = tf.variableGrads(() => {
      const zn = l2Normalize(tf.reshape(encoderForward(model.params, config, x), [-1, 4])) as tf.Tensor2D;
      const { st, q, codes } = quantizeStraightThrough(zn, model.quant.codebook as tf.Tensor2D);
      const recon = decoderForward(model.params, config, tf.reshape(st, [2, 4, 4, 4]) as tf.Tensor4D);
      kept = [tf.keep(zn), codes];
      return tf.add(
        tf.mean(tf.squaredDifference(recon, x)),
        tf.mean(tf.squaredDifference(zn, q)),
      ) as tf.Scalar;
    }, model.trainable());
    const [zn, codes] = kept as [tf.Tensor2D, tf.Tensor1D];
    await emaUpdate(model.quant, zn, codes, { decay: 0.9, restartAfter: 1, rng: new Random(2) });
    tf.train.adam(1e-3).applyGradients(grads as never);
  });
  model.dispose();
  // "forward", "*__op" and customGrad's "unnamed scope" (the fused relu convs) are tape scopes, not kernels
  return [...new Set(kernelNames)]
    .filter((k) => k !== "forward" && k !== "unnamed scope" && !k.endsWith("__op"))
    .sort();
}

test("every kernel of the VQ training graph is registered on webgpu", async () => {
  await selectBackend({ prefer: "cpu" });
  const used = await vqStepKernels();
  expect(used).toEqual(
    expect.arrayContaining(["Conv2DBackpropFilter", "FusedConv2D", "UnsortedSegmentSum", "ArgMax"]),
  );
  // registers the kernels (the backend itself needs an adapter, the registry does not)
  await import("@tensorflow/tfjs-backend-webgpu");
  const have = new Set(tf.getKernelsForBackend("webgpu").map((k) => k.kernelName));
  expect(used.filter((k) => !have.has(k))).toEqual([]);
});

const maxAbsDiff = (a: Float32Array, b: Float32Array) =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0);

/** Gradient values on one backend, read asynchronously. */
async function on(name: "cpu" | "webgpu", f: () => tf.Tensor[]): Promise<Float32Array[]> {
  await selectBackend({ prefer: name });
  const ts = f();
  const out = await Promise.all(ts.map(async (t) => Float32Array.from(await t.data())));
  tf.dispose(ts);
  return out;
}

const gradientCases: Record<string, () => tf.Tensor[]> = {
  "conv2d stride 2 (Conv2DBackpropInput/Filter)": () => {
    const x = tf.tensor4d(randomArray(2 * 9 * 9 * 3, 3), [2, 9, 9, 3]);
    const w = tf.tensor4d(randomArray(3 * 3 * 3 * 5, 4), [3, 3, 3, 5]);
    const r = tf.tensor4d(randomArray(2 * 5 * 5 * 5, 5), [2, 5, 5, 5]);
    return tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, "same"), r)),
    )([x, w]);
  },
  "resizeNearestNeighbor ×2 (its gradient)": () => {
    const x = tf.tensor4d(randomArray(1 * 4 * 4 * 3, 6), [1, 4, 4, 3]);
    const r = tf.tensor4d(randomArray(1 * 8 * 8 * 3, 7), [1, 8, 8, 3]);
    return [
      tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(a as tf.Tensor4D, [8, 8]), r)))(
        x,
      ),
    ];
  },
  "gather (UnsortedSegmentSum) with repeated ids": () => {
    const table = tf.tensor2d(randomArray(6 * 4, 8), [6, 4]);
    const idx = tf.tensor1d([5, 0, 5, 5, 2], "int32");
    const dy = tf.tensor2d(randomArray(5 * 4, 9), [5, 4]);
    return [tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, idx), dy)))(table)];
  },
  "batched matMul with transposes": () => {
    const a = tf.tensor3d(randomArray(2 * 5 * 3, 10), [2, 5, 3]);
    const b = tf.tensor3d(randomArray(2 * 4 * 3, 11), [2, 4, 3]);
    return tf.grads((p: tf.Tensor, q: tf.Tensor) =>
      tf.sum(tf.square(tf.matMul(p as tf.Tensor3D, q as tf.Tensor3D, false, true))),
    )([a, b]);
  },
  "softmax cross-entropy": () => {
    const logits = tf.tensor2d(randomArray(6 * 7, 12), [6, 7]);
    const labels = tf.oneHot(tf.tensor1d([0, 3, 6, 2, 2, 5], "int32"), 7);
    return [tf.grad((l: tf.Tensor) => tf.losses.softmaxCrossEntropy(labels, l as tf.Tensor2D))(logits)];
  },
};

describe.runIf(await webgpuAvailable())("webgpu gradient kernels match cpu", () => {
  test.each(Object.keys(gradientCases))("%s", async (name) => {
    const f = gradientCases[name] as () => tf.Tensor[];
    const ref = await on("cpu", f);
    const got = await on("webgpu", f);
    expect(got).toHaveLength(ref.length);
    for (const [i, r] of ref.entries()) {
      expect(maxAbsDiff(got[i] as Float32Array, r)).toBeLessThan(1e-4 * Math.max(1, ...r.map(Math.abs)));
    }
  });
});
