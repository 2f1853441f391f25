import type * as tfType from "@tensorflow/tfjs";

type Tf = typeof tfType;
// The wasm backend's internals we rely on (stable across tfjs 4.x; see tfjs-backend-wasm/dist/backend_wasm.js).
interface TensorInfo {
  dataId: object;
  shape: number[];
  dtype: string;
}
interface WasmBackend {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
}
interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: WasmBackend;
  attrs: Record<string, unknown>;
}

function callWasm(tf: Tf, name: string, args: KernelArgs): TensorInfo {
  const kernel = tf.getKernel(name, "wasm");
  if (!kernel) throw new Error(`wasm kernel ${name} is not registered`);
  return kernel.kernelFunc(args as never) as TensorInfo;
}

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
 * Conv2DBackpropFilter (the gradient of conv2d w.r.t. its filter), missing from tfjs-backend-wasm 4.22.
 * dW[kh,kw,ci,co] = Σ_{n,y,x} xPad[n, y·s+kh, x·s+kw, ci] · dy[n,y,x,co] — which is itself a stride-1 conv
 * with dilation s over the transposed input [ci, H, W, n] and the transposed dy [Ho, Wo, n, co] as filter,
 * so the heavy part runs in the wasm backend's own (XNNPACK) Conv2D.
 */
function makeConv2DBackpropFilter(tf: Tf) {
  return ({ inputs, backend, attrs }: KernelArgs): TensorInfo => {
    const x = inputs.x as TensorInfo;
    const dy = inputs.dy as TensorInfo;
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as {
      strides: number | [number, number];
      pad: "same" | "valid" | number;
      dataFormat: string;
      dimRoundingMode?: "floor" | "round" | "ceil";
      filterShape: [number, number, number, number];
    };
    if (dataFormat !== undefined && dataFormat !== "NHWC") {
      throw new Error(`wasm Conv2DBackpropFilter supports NHWC only, got ${dataFormat}`);
    }
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filterShape,
      strides,
      1,
      pad as "same",
      dimRoundingMode,
    );
    const [kh, kw] = [info.filterHeight, info.filterWidth];
    const [sh, sw] = [info.strideHeight, info.strideWidth];
    const [, H, W] = x.shape as [number, number, number, number];
    const [, Ho, Wo] = dy.shape as [number, number, number, number];
    const needH = (Ho - 1) * sh + kh;
    const needW = (Wo - 1) * sw + kw;
    const top = info.padInfo.top;
    const left = info.padInfo.left;
    const bottom = Math.max(0, needH - (H + top));
    const right = Math.max(0, needW - (W + left));
    const temps: TensorInfo[] = [];
    const keep = (t: TensorInfo) => {
      temps.push(t);
      return t;
    };
    try {
      let xt = keep(callWasm(tf, "Transpose", { inputs: { x }, backend, attrs: { perm: [3, 1, 2, 0] } }));
      if (top || bottom || left || right) {
        xt = keep(
          callWasm(tf, "PadV2", {
            inputs: { x: xt },
            backend,
            attrs: {
              paddings: [
                [0, 0],
                [top, bottom],
                [left, right],
                [0, 0],
              ],
              constantValue: 0,
            },
          }),
        );
      }
      const [c, ph, pw, n] = xt.shape as [number, number, number, number];
      if (ph !== needH || pw !== needW) {
        // the forward conv never read the last rows/cols (e.g. "valid" with a remainder): crop them
        xt = keep(
          callWasm(tf, "Slice", {
            inputs: { x: xt },
            backend,
            attrs: { begin: [0, 0, 0, 0], size: [c, needH, needW, n] },
          }),
        );
      }
      const f = keep(callWasm(tf, "Transpose", { inputs: { x: dy }, backend, attrs: { perm: [1, 2, 0, 3] } }));
      const conv = keep(
        callWasm(tf, "Conv2D", {
          inputs: { x: xt, filter: f },
          backend,
          attrs: { strides: [1, 1], pad: "valid", dataFormat: "NHWC", dilations: [sh, sw], dimRoundingMode: undefined },
        }),
      );
      // [ci, kh, kw, co] → [kh, kw, ci, co]
      return callWasm(tf, "Transpose", { inputs: { x: conv }, backend, attrs: { perm: [1, 2, 0, 3] } });
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
}

/**
 * Register the kernels that training needs and tfjs-backend-wasm 4.22 lacks. Idempotent; a kernel the
 * backend already has (a later tfjs release) is left alone.
 */
export function registerWasmKernels(tf: Tf): void {
  const add = (kernelName: string, kernelFunc: (args: KernelArgs) => TensorInfo) => {
    if (tf.getKernel(kernelName, "wasm")) return;
    tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc: kernelFunc as never });
  };
  add("UnsortedSegmentSum", unsortedSegmentSum);
  add("Conv2DBackpropFilter", makeConv2DBackpropFilter(tf));
}
