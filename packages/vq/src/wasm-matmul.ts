// BatchMatMul on the wasm backend for batched and A-transposed products. tfjs-backend-wasm 4.22 sends
// only an unbatched product with A as stored to XNNPACK; every other one (attention's per-head
// [B·H, T, T] products, and xᵀ·dy) runs a scalar C loop ~10× slower per FLOP: at the grounded
// configuration (seq 272) attention's three batched products took ~70 % of a trainer step. Here each
// batch slice of A and of B is copied (transposed where asked) into a fresh tensor and multiplied on the fast
// path; the copies are a small fraction of the arithmetic.
import {
  heapViews,
  type KernelArgs,
  type KernelFunc,
  type TensorInfo,
  type WasmBackend,
} from "./wasm-heap.js";

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** A float32 [1, rows, cols] tensor holding slice `i` of x (rows × cols each), transposed when `transpose`. */
function slice(
  backend: WasmBackend,
  x: TensorInfo,
  i: number,
  rows: number,
  cols: number,
  transpose: boolean,
) {
  const { out, o, ins } = heapViews(backend, [1, transpose ? cols : rows, transpose ? rows : cols], [x]);
  const src = ins[0] as Float32Array;
  const base = i * rows * cols;
  if (!transpose) o.set(src.subarray(base, base + rows * cols));
  else
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) o[c * rows + r] = src[base + r * cols + c] as number;
  return out;
}

/**
 * BatchMatMul through the unbatched, untransposed fast path, one batch slice at a time. Broadcasting is handled where
 * one side has a single slice; other cases (and non-float32 tensors) go to the built-in kernel.
 */
export function slicedBatchMatMul(original: KernelFunc): KernelFunc {
  return (args: KernelArgs): TensorInfo => {
    const a = args.inputs.a as TensorInfo;
    const b = args.inputs.b as TensorInfo;
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const batchA = size(a.shape.slice(0, -2));
    const batchB = size(b.shape.slice(0, -2));
    const batched = batchA > 1 || batchB > 1;
    const outBatch = a.shape.length >= b.shape.length ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
    const batch = size(outBatch);
    if (
      (!batched && !transposeA && !transposeB) ||
      a.dtype !== "float32" ||
      b.dtype !== "float32" ||
      (batchA !== batch && batchA !== 1) ||
      (batchB !== batch && batchB !== 1)
    )
      return original(args);
    const [ar, ac] = a.shape.slice(-2) as [number, number];
    const [br, bc] = b.shape.slice(-2) as [number, number];
    const m = transposeA ? ac : ar;
    const n = transposeB ? br : bc;
    const { backend } = args;
    const out = backend.makeOutput([...outBatch, m, n], "float32");
    for (let i = 0; i < batch; i++) {
      // fresh tensors for each slice: the fast path caches its packed B by tensor id
      const as = slice(backend, a, batchA === 1 ? 0 : i, ar, ac, transposeA);
      const bs = slice(backend, b, batchB === 1 ? 0 : i, br, bc, transposeB);
      try {
        const r = original({
          inputs: { a: as, b: bs },
          backend,
          attrs: { ...args.attrs, transposeA: false, transposeB: false },
        });
        const o = backend.typedArrayFromHeap(out) as Float32Array;
        o.set(backend.typedArrayFromHeap(r) as Float32Array, i * m * n);
        backend.disposeData(r.dataId);
      } finally {
        backend.disposeData(as.dataId);
        backend.disposeData(bs.dataId);
      }
    }
    return out;
  };
}
