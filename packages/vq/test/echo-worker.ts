// A helper for test/worker-pool.test.ts: answers an echo with when it arrived and how many floats it
// carried; a step (WorkerPool.postStep) with "gradients" k · weights, and whether the request carried
// the shared payload.
import { keptPayload, parentChannel, serveRequests, stepAnswer } from "../src/worker-pool.js";

const payload = keptPayload<{ weights: Float32Array; out?: Float32Array }>("echo-worker");

const channel = parentChannel();
if (channel)
  serveRequests(channel, async (m) => {
    if (m.type === "step") {
      const carried = m.shared !== undefined;
      const { weights, out } = payload(m);
      const grads = out ?? new Float32Array(weights.length);
      for (let j = 0; j < weights.length; j++) grads[j] = (m.k as number) * (weights[j] as number);
      return stepAnswer({ grads, carried }, []);
    }
    return { value: { received: Date.now(), floats: (m.payload as Float32Array | undefined)?.length ?? 0 } };
  });
