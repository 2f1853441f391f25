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

const channel = parentChannel();
if (channel) {
  serveRequests(channel, async (m) => {
    if (m.type === "init") {
      const { device } = await selectBackend({ prefer: (m.backend as BackendName | undefined) ?? "wasm" });
      model = VQ.create(m.config as VQConfig, 0);
      return { value: describeDevice(device) };
    }
    if (!model) throw new Error("vq-worker: step before init");
    const weights = m.weights as Float32Array;
    const vq = model;
    tf.tidy(() => {
      let offset = 0;
      for (const v of vq.trainable()) {
        v.assign(tf.tensor(weights.subarray(offset, offset + v.size), v.shape));
        offset += v.size;
      }
      vq.quant.codebook.assign(tf.tensor(m.codebook as Float32Array, vq.quant.codebook.shape));
    });
    // a worker thread writes its gradients into the main thread's shared buffer (`out`)
    const r = await shardGradients(model, m.images as Float32Array, m.n as number, m.out as Float32Array);
    const moved = [r.z, r.codes, ...(isShared(r.grads) ? [] : [r.grads])];
    return { value: r, transfer: moved.map((a) => a.buffer) as ArrayBuffer[] };
  });
}
