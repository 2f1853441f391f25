// A helper for test/worker-pool.test.ts: answers each request with when it arrived and how many floats it carried.
import { parentChannel, serveRequests } from "../src/worker-pool.js";

const channel = parentChannel();
if (channel)
  serveRequests(channel, async (m) => ({
    value: { received: Date.now(), floats: (m.payload as Float32Array | undefined)?.length ?? 0 },
  }));
