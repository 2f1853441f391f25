// The device process of tools/bench/ipc.bench.mjs: answers each step with "gradients" as large as the
// weights it was sent, from a buffer of its own, as a trainer's helper does; the pipe baseline answers
// the same way by itself.
import {
  gradientBuffer,
  keptPayload,
  parentChannel,
  releaseSpooled,
  serveRequests,
  stepAnswer,
} from "../../packages/vq/dist/index.js";

const channel = parentChannel();
if (channel && process.env.IPC_BENCH_PIPE) {
  // the baseline: what WorkerPool sent before the spool — the IPC channel alone
  process.on("message", (m) => process.send({ id: m.id, grads: m.weights }));
} else if (channel) {
  const payload = keptPayload("ipc-echo-worker");
  const gradsInto = gradientBuffer();
  serveRequests(channel, async (m) => {
    if (m.type === "init") return { value: "ready" };
    const { weights } = payload(m);
    const grads = gradsInto(undefined, weights.length);
    grads.set(weights);
    releaseSpooled(weights);
    return stepAnswer({ grads }, []);
  });
}
