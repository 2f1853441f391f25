// The device process of tools/bench/ipc.bench.mjs: answers each step with "gradients" as large as the
// weights it was sent, as a trainer's helper does; the pipe baseline answers the same way by itself.
import { keptPayload, parentChannel, serveRequests, stepAnswer } from "../../packages/vq/dist/index.js";

const channel = parentChannel();
if (channel && process.env.IPC_BENCH_PIPE) {
  // the baseline: what WorkerPool sent before the spool — the IPC channel alone
  process.on("message", (m) => process.send({ id: m.id, grads: m.weights }));
} else if (channel) {
  const payload = keptPayload("ipc-echo-worker");
  serveRequests(channel, async (m) => {
    if (m.type === "init") return { value: "ready" };
    return stepAnswer({ grads: payload(m).weights }, []);
  });
}
