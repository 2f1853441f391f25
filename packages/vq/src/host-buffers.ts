// The host-side buffers of a data-parallel step, reused from step to step. Each step used to allocate
// the weights, every gradient and their sum afresh (~14 MB of ArrayBuffers a step for the VQ demo),
// and V8 answered that external-memory growth with a full mark-compact in each isolate nearly every
// step — its concurrent marking running on the cores both training threads need. Worker threads get
// SharedArrayBuffers (nothing is copied across); child processes, which cannot share memory, get
// plain arrays sent as before.

import type * as TF from "./tfjs.js";

/**
 * Where a data-parallel helper runs (worker-pool.ts): a worker thread of this process, which shares
 * these buffers, or a child process pinned to one device, which gets copies.
 */
export type HelperKind = "thread" | "process";

/** A float32 buffer of `length` values a step reuses: shared with worker threads, plain for processes. */
export function stepBuffer(length: number, kind: HelperKind = "thread"): Float32Array {
  return kind === "thread" ? new Float32Array(new SharedArrayBuffer(length * 4)) : new Float32Array(length);
}

/** Whether `a` lives on a SharedArrayBuffer (it must then not be listed for transfer). */
export function isShared(a: ArrayBufferView): boolean {
  return typeof SharedArrayBuffer !== "undefined" && a.buffer instanceof SharedArrayBuffer;
}

interface HeapBackend {
  typedArrayFromHeap(t: { dataId: object; shape: number[]; dtype: string }): Float32Array;
}

/**
 * A float32 tensor's values as a view of the wasm backend's heap, or undefined on other backends. No
 * copy; valid only until the next tensor is made — so read it at once, with no `await` in between
 * (another async task, such as a prefetching data loader, may make tensors while this one waits).
 */
export function heapView(tf: typeof TF, t: TF.Tensor): Float32Array | undefined {
  if (tf.getBackend() !== "wasm" || t.dtype !== "float32") return undefined;
  return (tf.backend() as unknown as HeapBackend).typedArrayFromHeap(t);
}

/** Copy a float32 tensor's values into out[offset…]: on wasm straight from its heap, before anything else runs. */
export async function readInto(tf: typeof TF, t: TF.Tensor, out: Float32Array, offset = 0): Promise<void> {
  out.set(heapView(tf, t) ?? ((await t.data()) as Float32Array), offset);
}

/** Copy each tensor's values into `out`, one after another in the order given (a model's flat weights). */
export async function readAllInto(
  tf: typeof TF,
  tensors: Iterable<TF.Tensor>,
  out: Float32Array,
): Promise<void> {
  let offset = 0;
  for (const t of tensors) {
    await readInto(tf, t, out, offset);
    offset += t.size;
  }
}

/** Set each variable from its range of `flat`, in the order readAllInto wrote them. */
export function assignFrom(tf: typeof TF, variables: Iterable<TF.Variable>, flat: Float32Array): void {
  tf.tidy(() => {
    let offset = 0;
    for (const v of variables) {
      v.assign(tf.tensor(flat.subarray(offset, offset + v.size), v.shape));
      offset += v.size;
    }
  });
}
