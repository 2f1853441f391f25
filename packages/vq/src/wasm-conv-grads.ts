// The two conv2d gradients on the wasm backend, as stride-1 Conv2D calls so that XNNPACK does the
// arithmetic. tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter, and its Conv2DBackpropInput is a plain
// C loop ~10× slower than its Conv2D. The data movement around the convs (rotating the filter,
// zero-dilating the output gradient) is done by JS loops on the heap: tfjs-wasm's Reverse and 6-D PadV2
// walk every element through generic index arithmetic, and its Reverse alone took ~8 % of a VQ step.
// Padding is the conv's own (explicit pads), not a padded copy.
import {
  call,
  callWasm,
  heapViews,
  type KernelArgs,
  type TensorInfo,
  type Tf,
  type WasmOps,
  withTemps,
} from "./wasm-heap.js";

type Shape4 = [number, number, number, number];

/** The forward conv's geometry, from a gradient kernel's attributes; only NHWC is implemented (tfjs's own layout). */
function convInfo(
  tf: Tf,
  kernel: string,
  attrs: KernelArgs["attrs"],
  xShape: number[],
  filterShape: number[],
) {
  const a = attrs as {
    strides: number | [number, number];
    pad: "same" | "valid" | number;
    dataFormat?: string;
    dimRoundingMode?: "floor" | "round" | "ceil";
  };
  if (a.dataFormat !== undefined && a.dataFormat !== "NHWC") {
    throw new Error(`wasm ${kernel} supports NHWC only, got ${a.dataFormat}`);
  }
  return tf.backend_util.computeConv2DInfo(
    xShape as Shape4,
    filterShape as Shape4,
    a.strides,
    1,
    a.pad as "same",
    a.dimRoundingMode,
  );
}

/** A stride-1 NHWC Conv2D with explicit pads (top, bottom, left, right) and the given dilation. */
function conv(ops: WasmOps, x: TensorInfo, filter: TensorInfo, pads: number[], dilations: [number, number]) {
  const [top, bottom, left, right] = pads;
  return callWasm(ops.tf, "Conv2D", {
    inputs: { x, filter },
    backend: ops.backend,
    attrs: {
      strides: [1, 1],
      pad: [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0],
      ],
      dataFormat: "NHWC",
      dilations,
      dimRoundingMode: undefined,
    },
  });
}

/**
 * Conv2DBackpropFilter (the gradient of conv2d w.r.t. its filter).
 * dW[kh,kw,ci,co] = Σ_{n,y,x} xPad[n, y·s+kh, x·s+kw, ci] · dy[n,y,x,co] — which is itself a stride-1 conv
 * with dilation s over the transposed input [ci, H, W, n] and the transposed dy [Ho, Wo, n, co] as filter.
 */
export function makeConv2DBackpropFilter(tf: Tf) {
  return ({ inputs, backend, attrs }: KernelArgs): TensorInfo => {
    const x = inputs.x as TensorInfo;
    const dy = inputs.dy as TensorInfo;
    const info = convInfo(tf, "Conv2DBackpropFilter", attrs, x.shape, attrs.filterShape as number[]);
    const [kh, kw] = [info.filterHeight, info.filterWidth];
    const [sh, sw] = [info.strideHeight, info.strideWidth];
    const [, H, W, ci] = x.shape as [number, number, number, number];
    const [, Ho, Wo, co] = dy.shape as [number, number, number, number];
    // the rows/cols of the padded input the forward conv read
    const top = info.padInfo.top;
    const left = info.padInfo.left;
    const bottom = Math.max(0, (Ho - 1) * sh + kh - (H + top));
    const right = Math.max(0, (Wo - 1) * sw + kw - (W + left));
    return withTemps(tf, backend, (ops) => {
      const xt = call(ops, "Transpose", x, { perm: [3, 1, 2, 0] });
      const f = call(ops, "Transpose", dy, { perm: [1, 2, 0, 3] });
      let dw = ops.keep(conv(ops, xt, f, [top, bottom, left, right], [sh, sw]));
      // rows/cols past kh, kw come from input the forward conv never read (e.g. "valid" with a remainder)
      if (dw.shape[1] !== kh || dw.shape[2] !== kw)
        dw = call(ops, "Slice", dw, { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] });
      // [ci, kh, kw, co] → [kh, kw, ci, co]
      return callWasm(tf, "Transpose", { inputs: { x: dw }, backend, attrs: { perm: [1, 2, 0, 3] } });
    });
  };
}

/** dy with s−1 zeros inserted after every row and column ([n, Ho, Wo, c] → [n, Ho·sh, Wo·sw, c]). */
function zeroDilate(ops: WasmOps, dy: TensorInfo, sh: number, sw: number): TensorInfo {
  if (sh === 1 && sw === 1) return dy;
  const [n, Ho, Wo, c] = dy.shape as [number, number, number, number];
  const { out, o, ins } = heapViews(ops.backend, [n, Ho * sh, Wo * sw, c], [dy]);
  ops.keep(out);
  const d = ins[0] as Float32Array;
  o.fill(0);
  const rowOut = Wo * sw * c;
  for (let b = 0; b < n; b++)
    for (let y = 0; y < Ho; y++) {
      const src = (b * Ho + y) * Wo * c;
      const dst = (b * Ho * sh + y * sh) * rowOut;
      for (let x = 0; x < Wo; x++)
        for (let k = 0; k < c; k++) o[dst + x * sw * c + k] = d[src + x * c + k] as number;
    }
  return out;
}

/** The filter rotated 180° with its in/out channels swapped: [kh, kw, ci, co] → [kh, kw, co, ci]. */
function rotateFilter(ops: WasmOps, filter: TensorInfo): TensorInfo {
  const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
  const { out, o, ins } = heapViews(ops.backend, [kh, kw, co, ci], [filter]);
  ops.keep(out);
  const f = ins[0] as Float32Array;
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++) {
      const src = (i * kw + j) * ci * co;
      const dst = ((kh - 1 - i) * kw + (kw - 1 - j)) * co * ci;
      for (let a = 0; a < ci; a++)
        for (let b = 0; b < co; b++) o[dst + b * ci + a] = f[src + a * co + b] as number;
    }
  return out;
}

/** Crops H and W where a pad is negative (a conv's explicit pads must be ≥ 0); returns x and the pads left. */
function cropNegative(ops: WasmOps, x: TensorInfo, pads: number[]): { x: TensorInfo; pads: number[] } {
  if (pads.every((p) => p >= 0)) return { x, pads };
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const [ct, cb, cl, cr] = pads.map((v) => Math.max(0, -v)) as [number, number, number, number];
  const cropped = call(ops, "Slice", x, { begin: [0, ct, cl, 0], size: [n, h - ct - cb, w - cl - cr, c] });
  return { x: cropped, pads: pads.map((v) => Math.max(0, v)) };
}

/** Filter taps along one axis of a stride-2 phase: the original indices, in the rotated filter's order, and the leading pad. */
const PHASE_TAPS = [
  { taps: [2, 0], pad: 1 }, // even outputs: dy[q−1]·w[2] + dy[q]·w[0]
  { taps: [1], pad: 0 }, // odd outputs: dy[q]·w[1]
] as const;

/** The sub-filter of one phase: taps (ty × tx) of `filter` [3, 3, ci, co], rotated and channel-swapped to [th, tw, co, ci]. */
function phaseFilter(
  ops: WasmOps,
  filter: TensorInfo,
  ty: readonly number[],
  tx: readonly number[],
): TensorInfo {
  const [, kw, ci, co] = filter.shape as [number, number, number, number];
  const { out, o, ins } = heapViews(ops.backend, [ty.length, tx.length, co, ci], [filter]);
  ops.keep(out);
  const f = ins[0] as Float32Array;
  for (const [a, i] of ty.entries())
    for (const [b, j] of tx.entries()) {
      const src = (i * kw + j) * ci * co;
      const dst = (a * tx.length + b) * co * ci;
      for (let c = 0; c < ci; c++)
        for (let d = 0; d < co; d++) o[dst + d * ci + c] = f[src + c * co + d] as number;
    }
  return out;
}

/**
 * The input gradient of a stride-2, 3×3, "same" conv over even sizes (the encoder's downsampling) in
 * sub-pixel form: each of the four output phases (even/odd row × even/odd column) is a stride-1 conv of
 * dy with the 1–4 filter taps that reach it, and the four are interleaved. The zero-dilated form runs a
 * 3×3 conv over a dy with three zeros in every four values: 4× the arithmetic, and a 4×-size copy of dy.
 * The taps are visited in the rotated filter's order, so each output sums the same products in the
 * same order as the dilated form (whose other products are exact zeros).
 */
function subPixelInputGrad(ops: WasmOps, dy: TensorInfo, filter: TensorInfo, inputShape: Shape4): TensorInfo {
  const [n, H, W, ci] = inputShape;
  const [, Ho, Wo] = dy.shape as [number, number, number, number];
  const phases = PHASE_TAPS.map((py) =>
    PHASE_TAPS.map((px) =>
      ops.keep(conv(ops, dy, phaseFilter(ops, filter, py.taps, px.taps), [py.pad, 0, px.pad, 0], [1, 1])),
    ),
  );
  const { out, o, ins } = heapViews(ops.backend, inputShape, phases.flat());
  for (let py = 0; py < 2; py++)
    for (let px = 0; px < 2; px++) {
      const src = ins[py * 2 + px] as Float32Array;
      for (let b = 0; b < n; b++)
        for (let q = 0; q < Ho; q++) {
          const row = ((b * H + 2 * q + py) * W + px) * ci;
          const from = (b * Ho + q) * Wo * ci;
          // an indexed copy: a subarray per pixel costs more than the copy itself
          for (let r = 0; r < Wo; r++) {
            const d = row + 2 * r * ci;
            const f = from + r * ci;
            for (let c = 0; c < ci; c++) o[d + c] = src[f + c] as number;
          }
        }
    }
  return out;
}

/** Whether subPixelInputGrad applies: stride 2, a 3×3 filter, no dilation, "same" padding of even sizes (no leading pad). */
function isSubPixelCase(info: ReturnType<typeof convInfo>, inputShape: Shape4): boolean {
  return (
    info.strideHeight === 2 &&
    info.strideWidth === 2 &&
    info.filterHeight === 3 &&
    info.filterWidth === 3 &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    info.padInfo.top === 0 &&
    info.padInfo.left === 0 &&
    inputShape[1] === 2 * info.outHeight &&
    inputShape[2] === 2 * info.outWidth
  );
}

/**
 * Conv2DBackpropInput (conv2d's gradient w.r.t. its input): a stride-1 conv of dy — zero-dilated by the
 * stride — with the filter rotated 180° and its in/out channels swapped, padded by k−1−pad; the
 * encoder's stride-2 case in sub-pixel form (subPixelInputGrad).
 */
export function makeConv2DBackpropInput(tf: Tf) {
  return ({ inputs, backend, attrs }: KernelArgs): TensorInfo => {
    const dy = inputs.dy as TensorInfo;
    const filter = inputs.filter as TensorInfo;
    const inputShape = attrs.inputShape as Shape4;
    const info = convInfo(tf, "Conv2DBackpropInput", attrs, inputShape, filter.shape);
    return withTemps(tf, backend, (ops) => {
      if (isSubPixelCase(info, inputShape)) return subPixelInputGrad(ops, dy, filter, inputShape);
      const d = zeroDilate(ops, dy, info.strideHeight, info.strideWidth);
      const f = rotateFilter(ops, filter);
      // pad by k−1−pad on the leading side, and whatever brings the output to the input's size after
      const [kh, kw] = [info.filterHeight, info.filterWidth];
      const top = kh - 1 - info.padInfo.top;
      const left = kw - 1 - info.padInfo.left;
      const bottom = inputShape[1] - (d.shape[1] as number) + kh - 1 - top;
      const right = inputShape[2] - (d.shape[2] as number) + kw - 1 - left;
      const src = cropNegative(ops, d, [top, bottom, left, right]);
      return conv(ops, src.x, f, src.pads, [1, 1]);
    });
  };
}
