// Helper of DataParallelTrainer — a worker thread (wasm) or a child process pinned to one device: its
// own backend and model copy; per request, takes the main thread's weights and returns the gradients
// of its rows of the micro-batches.
import {
  type BackendName,
  describeDevice,
  isShared,
  parentChannel,
  selectBackend,
  serveRequests,
} from "@laion/vq";
import { type FlatHeld, type FlatOp, runFlatOp } from "./flat-adamw.js";
import { type ModelConfig, Transformer } from "./model.js";
import { type ShardTask, shardGradients } from "./parallel-step.js";

let model: Transformer | undefined;
// a worker thread's share of the optimizer step: the flat weights, moments and gradients (flat-adamw.ts)
let held: FlatHeld | undefined;
// a worker thread's shared buffers, sent with its first step only (vq's host-buffers)
let shared: { weights: Float32Array; out?: Float32Array } | undefined;

const channel = parentChannel();
if (channel) {
  serveRequests(channel, async (m) => {
    if (m.type === "init") {
      const { tf, device } = await selectBackend({
        prefer: (m.backend as BackendName | undefined) ?? "wasm",
      });
      const cfg = m.cfg as ModelConfig;
      // the codebook arrives with the weights of every step, like every other parameter
      const codebook = new Float32Array((cfg.image?.size ?? 0) * (cfg.image?.codebookDim ?? 0)).fill(1);
      model = new Transformer(tf, cfg, { seed: 0, codebook });
      return { value: describeDevice(device) };
    }
    if (m.type === "hold") {
      held = { state: m.state, layout: m.layout } as FlatHeld;
      return { value: null };
    }
    if (m.type === "reduce" || m.type === "adam") {
      if (!held) throw new Error(`grad-worker: ${m.type} before hold`);
      return { value: runFlatOp(held, m as unknown as FlatOp, m.from as number, m.to as number) };
    }
    if (!model) throw new Error("grad-worker: step before init");
    const tf = model.tf;
    if (m.weights) shared = { weights: m.weights as Float32Array, out: m.out as Float32Array | undefined };
    if (!shared) throw new Error("grad-worker: step without weights");
    const { weights, out } = shared;
    const vars = model.params;
    tf.tidy(() => {
      let offset = 0;
      for (const v of vars.values()) {
        v.assign(tf.tensor(weights.subarray(offset, offset + v.size), v.shape));
        offset += v.size;
      }
    });
    // a worker thread sums its gradients into the main thread's shared buffer (`out`)
    const r = await shardGradients(model, m.task as ShardTask, out);
    const transfer = r.ce.map((a) => a.buffer) as ArrayBuffer[];
    // shared gradients are not sent back: the main thread reads them where they are (every
    // SharedArrayBuffer a message carries becomes a new object of the receiving isolate)
    if (isShared(r.grads)) return { value: { ...r, grads: undefined }, transfer };
    return { value: r, transfer: [...transfer, r.grads.buffer as ArrayBuffer] };
  });
}
