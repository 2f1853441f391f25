// Helper of DataParallelVQ — a worker thread (wasm) or a child process pinned to one device: its own
// backend and model copy; per request, takes the main thread's weights and codebook and returns one
// shard's gradients and EMA inputs.
import { type BackendName, describeDevice, selectBackend } from "./backend.js";
import type { VQConfig } from "./config.js";
import { assignFrom } from "./host-buffers.js";
import { releaseSpooled } from "./ipc-spool.js";
import * as tf from "./tfjs.js";
import { VQ } from "./vq-model.js";
import { shardGradients } from "./vq-step.js";
import { gradientBuffer, keptPayload, parentChannel, serveRequests, stepAnswer } from "./worker-pool.js";

let model: VQ | undefined;
// a worker thread writes its gradients into the main thread's shared buffer, a process into its own
const gradsInto = gradientBuffer();
// the step's weights and codebook (a worker thread keeps its shared buffers from its first step)
const payload = keptPayload<{ weights: Float32Array; codebook: Float32Array; out?: Float32Array }>(
  "vq-worker",
);

const channel = parentChannel();
if (channel) {
  serveRequests(channel, async (m) => {
    if (m.type === "init") {
      const { device } = await selectBackend({ prefer: (m.backend as BackendName | undefined) ?? "wasm" });
      model = VQ.create(m.config as VQConfig, 0);
      return { value: describeDevice(device) };
    }
    if (!model) throw new Error("vq-worker: step before init");
    const { weights, codebook, out } = payload(m);
    assignFrom(tf, model.trainable(), weights);
    assignFrom(tf, [model.quant.codebook], codebook);
    // a process's copies, read from its spool into memory that the next step's are read into
    releaseSpooled(weights);
    releaseSpooled(codebook);
    const r = await shardGradients(
      model,
      m.images as Float32Array,
      m.n as number,
      gradsInto(out, weights.length),
    );
    return stepAnswer(r, [r.z.buffer, r.codes.buffer] as ArrayBuffer[]);
  });
}
