// Kernels registered on tfjs-backend-wasm 4.22 where it lacks one that training needs or runs one
// slowly; each is checked against the cpu backend in test/wasm-kernels.test.ts. The conv gradients are
// in wasm-conv-grads.ts.
import { makeConv2DBackpropFilter, makeConv2DBackpropInput } from "./wasm-conv-grads.js";
import { heapViews, type KernelArgs, type KernelFunc, type TensorInfo, type Tf } from "./wasm-heap.js";
import { slicedBatchMatMul } from "./wasm-matmul.js";

/**
 * UnsortedSegmentSum (the gradient of `gather`): out[s, ...] = Σ x[i, ...] over i with ids[i] = s.
 * Done in JS on the wasm heap; it is only used for small tensors such as codebook gradients.
 */
function unsortedSegmentSum({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const x = inputs.x as TensorInfo;
  const ids = inputs.segmentIds as TensorInfo;
  const numSegments = attrs.numSegments as number;
  const inner = x.shape.slice(ids.shape.length).reduce((a, b) => a * b, 1);
  const outShape = [numSegments, ...x.shape.slice(ids.shape.length)];
  // Allocate first: a malloc can grow the heap and detach earlier views of it.
  const out = backend.makeOutput(outShape, x.dtype);
  const o = backend.typedArrayFromHeap(out);
  const xs = backend.typedArrayFromHeap(x);
  const is = backend.typedArrayFromHeap(ids);
  o.fill(0);
  for (let i = 0; i < is.length; i++) {
    const s = is[i] as number;
    if (s < 0 || s >= numSegments) continue; // as in TensorFlow: out-of-range ids are dropped
    const src = i * inner;
    const dst = s * inner;
    for (let k = 0; k < inner; k++) (o[dst + k] as number) += xs[src + k] as number;
  }
  return out;
}

/**
 * Identity that shares the input's buffer (one more reference), as the cpu backend's does. The wasm
 * one copies, and the engine clones every tensor a gradient keeps for the backward pass through it:
 * ~100 copies of activations per VQ step (~5 % of the step). Nothing writes into a wasm tensor after
 * it is made, so the shared buffer is never seen to change.
 */
function sharedIdentity(original: KernelFunc): KernelFunc {
  return (args) => {
    const x = args.inputs.x as TensorInfo;
    if (x.dtype === "string") return original(args);
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

/** The integer factors [fh, fw] of a nearest-neighbour upsampling that repeats each pixel, or undefined. */
function repeatFactors(inShape: number[], outH: number, outW: number, attrs: KernelArgs["attrs"]) {
  const [, h, w] = inShape as [number, number, number, number];
  if (attrs.alignCorners || outH % h !== 0 || outW % w !== 0) return undefined;
  // floor(y·h/outH) and, with half-pixel centres, floor((y + ½)·h/outH) are both ⌊y/f⌋ for an integer f
  return [outH / h, outW / w] as const;
}

/**
 * ResizeNearestNeighbor by integer factors (the VQ decoder's ×2 upsampling) as row copies on the heap;
 * tfjs-wasm's kernel computes a source index per element. Other sizes use the built-in kernel.
 */
function repeatResize(original: KernelFunc): KernelFunc {
  return (args) => {
    const images = args.inputs.images as TensorInfo;
    const [outH, outW] = args.attrs.size as [number, number];
    const f = images.dtype === "float32" ? repeatFactors(images.shape, outH, outW, args.attrs) : undefined;
    if (!f) return original(args);
    const [n, h, w, c] = images.shape as [number, number, number, number];
    const { out, o, ins } = heapViews(args.backend, [n, outH, outW, c], [images]);
    const x = ins[0] as Float32Array;
    const row = outW * c;
    for (let b = 0; b < n; b++)
      for (let y = 0; y < outH; y++) {
        const dst = (b * outH + y) * row;
        // the rows a source row repeats into are copies of the first
        if (y % f[0] !== 0) {
          o.copyWithin(dst, dst - row, dst);
          continue;
        }
        const src = (b * h + y / f[0]) * w * c;
        for (let xo = 0; xo < outW; xo++) {
          const s = src + Math.floor(xo / f[1]) * c;
          o.set(x.subarray(s, s + c), dst + xo * c);
        }
      }
    return out;
  };
}

/** ResizeNearestNeighborGrad for repeatResize's case: each input pixel's gradient sums its f×f copies. */
function repeatResizeGrad(original: KernelFunc): KernelFunc {
  return (args) => {
    const images = args.inputs.images as TensorInfo;
    const dy = args.inputs.dy as TensorInfo;
    const [, outH, outW] = dy.shape as [number, number, number, number];
    const f = dy.dtype === "float32" ? repeatFactors(images.shape, outH, outW, args.attrs) : undefined;
    if (!f) return original(args);
    const [n, h, w, c] = images.shape as [number, number, number, number];
    const { out, o, ins } = heapViews(args.backend, images.shape, [dy]);
    const g = ins[0] as Float32Array;
    o.fill(0);
    for (let b = 0; b < n; b++)
      for (let y = 0; y < outH; y++) {
        const dst = (b * h + Math.floor(y / f[0])) * w * c;
        const src = (b * outH + y) * outW * c;
        for (let xo = 0; xo < outW; xo++) {
          const d = dst + Math.floor(xo / f[1]) * c;
          const s = src + xo * c;
          for (let k = 0; k < c; k++) (o[d + k] as number) += g[s + k] as number;
        }
      }
    return out;
  };
}

const OURS = Symbol.for("@laion/vq wasm kernel");
type Registered = { kernelFunc: KernelFunc & { [OURS]?: true }; setupFunc?: unknown };

/**
 * Register the kernels that training needs and tfjs-backend-wasm 4.22 lacks (UnsortedSegmentSum,
 * Conv2DBackpropFilter) or runs slowly (Conv2DBackpropInput, Identity, ResizeNearestNeighbor and its
 * gradient, batched or A-transposed BatchMatMul). Idempotent; a missing kernel that a later tfjs release provides is left alone.
 */
export function registerWasmKernels(tf: Tf): void {
  const add = (kernelName: string, kernelFunc: KernelFunc) => {
    if (tf.getKernel(kernelName, "wasm")) return;
    tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc: kernelFunc as never });
  };
  // replace a built-in one (once: ours are tagged); it stays reachable for the cases ours leaves to it,
  // and its setup (which binds its wasm function) still runs if the backend is initialised again
  const replace = (kernelName: string, make: (original: KernelFunc) => KernelFunc) => {
    const existing = tf.getKernel(kernelName, "wasm") as unknown as Registered | undefined;
    if (existing?.kernelFunc[OURS]) return;
    if (existing) tf.unregisterKernel(kernelName, "wasm");
    const original: KernelFunc =
      existing?.kernelFunc ??
      (() => {
        throw new Error(`wasm has no built-in ${kernelName} for this case`);
      });
    const kernelFunc = Object.assign(make(original), { [OURS]: true as const });
    tf.registerKernel({
      kernelName,
      backendName: "wasm",
      kernelFunc: kernelFunc as never,
      ...(existing?.setupFunc ? { setupFunc: existing.setupFunc as never } : {}),
    });
  };
  add("UnsortedSegmentSum", unsortedSegmentSum);
  add("Conv2DBackpropFilter", makeConv2DBackpropFilter(tf));
  replace("Conv2DBackpropInput", () => makeConv2DBackpropInput(tf));
  replace("Identity", sharedIdentity);
  replace("ResizeNearestNeighbor", repeatResize);
  replace("ResizeNearestNeighborGrad", repeatResizeGrad);
  replace("BatchMatMul", slicedBatchMatMul);
}
