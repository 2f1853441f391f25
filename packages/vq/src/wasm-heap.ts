// What our wasm kernels (wasm-kernels.ts, wasm-conv-grads.ts) use of tfjs-backend-wasm's internals
// (stable across tfjs 4.x; see tfjs-backend-wasm/dist/backend_wasm.js): tensors as ids into the
// backend's heap, read and written in place through typed-array views.
import type * as tfType from "./tfjs.js";

export type Tf = typeof tfType;

export interface TensorInfo {
  dataId: object;
  shape: number[];
  dtype: string;
}

export interface WasmBackend {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  /** A view of the tensor on the heap; any later allocation may grow the heap and detach it. */
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
}

export interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: WasmBackend;
  attrs: Record<string, unknown>;
}

export type KernelFunc = (args: KernelArgs) => TensorInfo;

/** Run the kernel registered for wasm under `name` directly (no tape, no engine bookkeeping). */
export function callWasm(tf: Tf, name: string, args: KernelArgs): TensorInfo {
  const kernel = tf.getKernel(name, "wasm");
  if (!kernel) throw new Error(`wasm kernel ${name} is not registered`);
  return kernel.kernelFunc(args as never) as TensorInfo;
}

/** One kernel call's wasm context: temporaries registered with `keep` are freed when the kernel returns. */
export interface WasmOps {
  tf: Tf;
  backend: WasmBackend;
  keep: (t: TensorInfo) => TensorInfo;
}

/** Run `f` with a WasmOps whose kept temporaries are freed afterwards (the result must not be kept). */
export function withTemps<T>(tf: Tf, backend: WasmBackend, f: (ops: WasmOps) => T): T {
  const temps: TensorInfo[] = [];
  const keep = (t: TensorInfo) => {
    temps.push(t);
    return t;
  };
  try {
    return f({ tf, backend, keep });
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

/** Call a one-input wasm kernel; the output is a temporary of `ops`. */
export const call = (ops: WasmOps, name: string, x: TensorInfo, attrs: KernelArgs["attrs"]) =>
  ops.keep(callWasm(ops.tf, name, { inputs: { x }, backend: ops.backend, attrs }));

/** A float32 output of `shape` and writable views of it and of `inputs` (allocated first: a malloc can detach views). */
export function heapViews(
  backend: WasmBackend,
  shape: number[],
  inputs: TensorInfo[],
): { out: TensorInfo; o: Float32Array; ins: Float32Array[] } {
  const out = backend.makeOutput(shape, "float32");
  return {
    out,
    o: backend.typedArrayFromHeap(out) as Float32Array,
    ins: inputs.map((t) => backend.typedArrayFromHeap(t) as Float32Array),
  };
}
