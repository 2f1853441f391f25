// Helper of DataParallelTrainer — a worker thread (wasm) or a child process pinned to one device: its
// own backend and model copy; per request, takes the main thread's weights and returns the gradients
// of its rows of the micro-batches.
import {
  assignFrom,
  type BackendName,
  describeDevice,
  gradientBuffer,
  keptPayload,
  parentChannel,
  releaseSpooled,
  selectBackend,
  serveRequests,
  stepAnswer,
} from "@laion/vq";
import { type FlatHeld, type FlatOp, runFlatOp } from "./flat-adamw.js";
import { type ModelConfig, Transformer } from "./model.js";
import { type ShardTask, shardGradients } from "./parallel-step.js";

let model: Transformer | undefined;
// a worker thread sums its gradients into the main thread's shared buffer, a process into its own
const gradsInto = gradientBuffer();
// a worker thread's share of the optimizer step: the flat weights, moments and gradients (flat-adamw.ts)
let held: FlatHeld | undefined;
// the step's weights (a worker thread keeps its shared buffers from its first step)
const payload = keptPayload<{ weights: Float32Array; out?: Float32Array }>("grad-worker");

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
    const { weights, out } = payload(m);
    assignFrom(model.tf, model.params.values(), weights);
    // a process's copy, read from its spool into memory that the next step's is read into
    releaseSpooled(weights);
    const r = await shardGradients(model, m.task as ShardTask, gradsInto(out, weights.length));
    return stepAnswer(
      r,
      r.ce.map((a) => a.buffer as ArrayBuffer),
    );
  });
}
