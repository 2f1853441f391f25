import type * as tfType from "./tfjs.js";

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

/** The attributes both conv gradient kernels get; only NHWC is implemented (tfjs's own layout). */
function convGradAttrs<Extra>(
  kernel: string,
  attrs: KernelArgs["attrs"],
): Extra & {
  strides: number | [number, number];
  pad: "same" | "valid" | number;
  dimRoundingMode?: "floor" | "round" | "ceil";
} {
  const a = attrs as unknown as Extra & {
    strides: number | [number, number];
    pad: "same" | "valid" | number;
    dataFormat?: string;
    dimRoundingMode?: "floor" | "round" | "ceil";
  };
  if (a.dataFormat !== undefined && a.dataFormat !== "NHWC") {
    throw new Error(`wasm ${kernel} supports NHWC only, got ${a.dataFormat}`);
  }
  return a;
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
    const { strides, pad, dimRoundingMode, filterShape } = convGradAttrs<{
      filterShape: [number, number, number, number];
    }>("Conv2DBackpropFilter", attrs);
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
      const f = keep(
        callWasm(tf, "Transpose", { inputs: { x: dy }, backend, attrs: { perm: [1, 2, 0, 3] } }),
      );
      const conv = keep(
        callWasm(tf, "Conv2D", {
          inputs: { x: xt, filter: f },
          backend,
          attrs: {
            strides: [1, 1],
            pad: "valid",
            dataFormat: "NHWC",
            dilations: [sh, sw],
            dimRoundingMode: undefined,
          },
        }),
      );
      // [ci, kh, kw, co] → [kh, kw, ci, co]
      return callWasm(tf, "Transpose", { inputs: { x: conv }, backend, attrs: { perm: [1, 2, 0, 3] } });
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
}

/** One kernel call's wasm context: temporaries registered with `keep` are freed when the kernel returns. */
interface WasmOps {
  tf: Tf;
  backend: WasmBackend;
  keep: (t: TensorInfo) => TensorInfo;
}

const call = (ops: WasmOps, name: string, x: TensorInfo, attrs: KernelArgs["attrs"]) =>
  ops.keep(callWasm(ops.tf, name, { inputs: { x }, backend: ops.backend, attrs }));

/** dy with s−1 zeros inserted after every row and column ([n, Ho, Wo, c] → [n, Ho·sh, Wo·sw, c]). */
function zeroDilate(ops: WasmOps, dy: TensorInfo, sh: number, sw: number): TensorInfo {
  if (sh === 1 && sw === 1) return dy;
  const [n, Ho, Wo, c] = dy.shape as [number, number, number, number];
  const r = call(ops, "Reshape", dy, { shape: [n, Ho, 1, Wo, 1, c] });
  const paddings = [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ];
  const p = call(ops, "PadV2", r, { paddings, constantValue: 0 });
  return call(ops, "Reshape", p, { shape: [n, Ho * sh, Wo * sw, c] });
}

/** The filter rotated 180° with its in/out channels swapped: [kh, kw, ci, co] → [kh, kw, co, ci]. */
function rotateFilter(ops: WasmOps, filter: TensorInfo): TensorInfo {
  const rev = call(ops, "Reverse", filter, { dims: [0, 1] });
  return call(ops, "Transpose", rev, { perm: [0, 1, 3, 2] });
}

/** Pads H and W by the given amounts; a negative amount crops (explicit padding must be ≥ 0). */
function padOrCrop(ops: WasmOps, x: TensorInfo, top: number, bottom: number, left: number, right: number) {
  const paddings = [
    [0, 0],
    [Math.max(0, top), Math.max(0, bottom)],
    [Math.max(0, left), Math.max(0, right)],
    [0, 0],
  ];
  const padded = call(ops, "PadV2", x, { paddings, constantValue: 0 });
  if (top >= 0 && bottom >= 0 && left >= 0 && right >= 0) return padded;
  const [n, ph, pw, c] = padded.shape as [number, number, number, number];
  const [ct, cb, cl, cr] = [top, bottom, left, right].map((v) => Math.max(0, -v)) as [
    number,
    number,
    number,
    number,
  ];
  return call(ops, "Slice", padded, { begin: [0, ct, cl, 0], size: [n, ph - ct - cb, pw - cl - cr, c] });
}

/**
 * Conv2DBackpropInput (conv2d's gradient w.r.t. its input). tfjs-backend-wasm 4.22 has one, but it is a
 * plain C loop ~10× slower than its XNNPACK Conv2D, and it dominated training time. dx is a stride-1
 * conv of dy — zero-dilated by the stride — with the filter rotated 180° and its in/out channels
 * swapped, padded by k−1−pad: the same arithmetic on the fast path.
 */
function makeConv2DBackpropInput(tf: Tf) {
  return ({ inputs, backend, attrs }: KernelArgs): TensorInfo => {
    const dy = inputs.dy as TensorInfo;
    const filter = inputs.filter as TensorInfo;
    const { strides, pad, dimRoundingMode, inputShape } = convGradAttrs<{
      inputShape: [number, number, number, number];
    }>("Conv2DBackpropInput", attrs);
    const info = tf.backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as [number, number, number, number],
      strides,
      1,
      pad as "same",
      dimRoundingMode,
    );
    const temps: TensorInfo[] = [];
    const keep = (t: TensorInfo) => {
      temps.push(t);
      return t;
    };
    const ops: WasmOps = { tf, backend, keep };
    try {
      const d = zeroDilate(ops, dy, info.strideHeight, info.strideWidth);
      const f = rotateFilter(ops, filter);
      // pad by k−1−pad on the leading side, and whatever brings the output to the input's size after
      const [kh, kw] = [info.filterHeight, info.filterWidth];
      const top = kh - 1 - info.padInfo.top;
      const left = kw - 1 - info.padInfo.left;
      const bottom = inputShape[1] - (d.shape[1] as number) + kh - 1 - top;
      const right = inputShape[2] - (d.shape[2] as number) + kw - 1 - left;
      const src = padOrCrop(ops, d, top, bottom, left, right);
      return callWasm(tf, "Conv2D", {
        inputs: { x: src, filter: f },
        backend,
        attrs: {
          strides: [1, 1],
          pad: "valid",
          dataFormat: "NHWC",
          dilations: [1, 1],
          dimRoundingMode: undefined,
        },
      });
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
}

const OURS = Symbol.for("@laion/vq wasm kernel");

/**
 * Register the kernels that training needs and tfjs-backend-wasm 4.22 lacks (UnsortedSegmentSum,
 * Conv2DBackpropFilter) or runs slowly (Conv2DBackpropInput). Idempotent; a missing kernel that a later
 * tfjs release provides is left alone.
 */
export function registerWasmKernels(tf: Tf): void {
  const add = (kernelName: string, kernelFunc: (args: KernelArgs) => TensorInfo) => {
    if (tf.getKernel(kernelName, "wasm")) return;
    tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc: kernelFunc as never });
  };
  add("UnsortedSegmentSum", unsortedSegmentSum);
  add("Conv2DBackpropFilter", makeConv2DBackpropFilter(tf));
  // replace the slow built-in one (once: ours is tagged)
  const existing = tf.getKernel("Conv2DBackpropInput", "wasm") as
    | { kernelFunc: { [OURS]?: true } }
    | undefined;
  if (!existing?.kernelFunc[OURS]) {
    if (existing) tf.unregisterKernel("Conv2DBackpropInput", "wasm");
    const fn = Object.assign(makeConv2DBackpropInput(tf), { [OURS]: true as const });
    tf.registerKernel({ kernelName: "Conv2DBackpropInput", backendName: "wasm", kernelFunc: fn as never });
  }
}
