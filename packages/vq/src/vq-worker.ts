// Helper of DataParallelVQ — a worker thread (wasm) or a child process pinned to one device: its own
// backend and model copy; per request, takes the main thread's weights and codebook and returns one
// shard's gradients and EMA inputs.
import { type BackendName, describeDevice, selectBackend } from "./backend.js";
import type { VQConfig } from "./config.js";
import { isShared } from "./host-buffers.js";
import * as tf from "./tfjs.js";
import { VQ } from "./vq-model.js";
import { shardGradients } from "./vq-step.js";
import { parentChannel, serveRequests } from "./worker-pool.js";

let model: VQ | undefined;
// a worker thread's shared buffers, sent with its first step only (host-buffers.ts)
let shared: { weights: Float32Array; codebook: Float32Array; out?: Float32Array } | undefined;

const channel = parentChannel();
if (channel) {
  serveRequests(channel, async (m) => {
    if (m.type === "init") {
      const { device } = await selectBackend({ prefer: (m.backend as BackendName | undefined) ?? "wasm" });
      model = VQ.create(m.config as VQConfig, 0);
      return { value: describeDevice(device) };
    }
    if (!model) throw new Error("vq-worker: step before init");
    if (m.weights) {
      const { weights, codebook, out } = m as unknown as NonNullable<typeof shared>;
      shared = { weights, codebook, out };
    }
    if (!shared) throw new Error("vq-worker: step without weights");
    const { weights, codebook, out } = shared;
    const vq = model;
    tf.tidy(() => {
      let offset = 0;
      for (const v of vq.trainable()) {
        v.assign(tf.tensor(weights.subarray(offset, offset + v.size), v.shape));
        offset += v.size;
      }
      vq.quant.codebook.assign(tf.tensor(codebook, vq.quant.codebook.shape));
    });
    // a worker thread writes its gradients into the main thread's shared buffer (`out`)
    const r = await shardGradients(model, m.images as Float32Array, m.n as number, out);
    // shared gradients are not sent back: the main thread reads them where they are (every
    // SharedArrayBuffer a message carries becomes a new object of the receiving isolate)
    if (isShared(r.grads))
      return { value: { ...r, grads: undefined }, transfer: [r.z.buffer, r.codes.buffer] as ArrayBuffer[] };
    return { value: r, transfer: [r.z, r.codes, r.grads].map((a) => a.buffer) as ArrayBuffer[] };
  });
}
