import { afterAll, expect, test } from "vitest";
import { WorkerPool, workerEntry } from "../src/worker-pool.js";

// A device helper is a child process whose requests are written through a 64 KiB pipe on this process's
// event loop. The data-parallel steps await `sent` before computing their own shard (synchronous tfjs
// work that does not yield): until session 11 they did not, and a child got its weights only after the
// parent's shard was done, so the two devices ran one after the other.

const pool = new WorkerPool(workerEntry(import.meta.url, "echo-worker"), 2, { type: "init" }, "process");
afterAll(() => pool.close());

/** Blocks this thread's event loop for `ms`, as a shard's tfjs ops do. */
function compute(ms: number): number {
  const end = Date.now() + ms;
  while (Date.now() < end) {}
  return end;
}

test("a request to a child process has arrived whole by the end of a computation begun once it was sent", async () => {
  await pool.ready();
  const helper = pool.workers[0]!;
  const payload = new Float32Array(4 << 20); // 16 MiB, 256 pipe buffers
  const { sent, answer } = helper.post<{ received: number; floats: number }>({ type: "echo", payload });
  await sent;
  const end = compute(2000);
  const got = await answer;
  expect(got.floats).toBe(payload.length);
  expect(got.received).toBeLessThan(end);
}, 60_000);

test("without waiting for it to be sent, the same request arrives only after the computation (what `sent` is for)", async () => {
  const helper = pool.workers[0]!;
  const payload = new Float32Array(4 << 20);
  const { answer } = helper.post<{ received: number; floats: number }>({ type: "echo", payload });
  const end = compute(2000);
  expect((await answer).received).toBeGreaterThanOrEqual(end);
}, 60_000);

// the write's callback runs with an error when the pipe breaks, so a step does not hang on `sent`
test("a child that dies while its request is being written: `sent` still resolves, the answer names the device", async () => {
  const dying = new WorkerPool(workerEntry(import.meta.url, "echo-worker"), 2, { type: "init" }, "process");
  try {
    await dying.ready();
    const helper = dying.workers[0]!;
    const { sent, answer } = helper.post({ type: "echo", payload: new Float32Array(16 << 20) });
    answer.catch(() => {});
    process.kill(helper.pid!, "SIGKILL");
    await sent;
    await expect(answer).rejects.toThrow(/device 1 \(child process \d+, CUDA_VISIBLE_DEVICES=1\)/);
  } finally {
    await dying.close();
  }
}, 60_000);
