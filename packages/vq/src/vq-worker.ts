// Worker thread of DataParallelVQ: its own wasm backend and model copy; per request, takes the main
// thread's weights and codebook and returns one shard's gradients and EMA inputs.
import { parentPort } from "node:worker_threads";
import { selectBackend } from "./backend.js";
import type { VQConfig } from "./config.js";
import * as tf from "./tfjs.js";
import { VQ } from "./vq-model.js";
import { shardGradients } from "./vq-step.js";
import { serveRequests } from "./worker-pool.js";

let model: VQ | undefined;

if (parentPort) {
  serveRequests(parentPort, async (m) => {
    if (m.type === "init") {
      await selectBackend({ prefer: "wasm" });
      model = VQ.create(m.config as VQConfig, 0);
      return { value: true };
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
    const r = await shardGradients(model, m.images as Float32Array, m.n as number);
    return { value: r, transfer: [r.grads.buffer, r.z.buffer, r.codes.buffer] as ArrayBuffer[] };
  });
}
