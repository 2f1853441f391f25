import { readdirSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { stepBuffer } from "../src/host-buffers.js";
import { SPOOL_MIN_BYTES, spoolRoot } from "../src/ipc-spool.js";
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

test("without waiting for it to be sent, a request the pipe carries arrives only after the computation (what `sent` is for)", async () => {
  const helper = pool.workers[0]!;
  // the largest array that goes inline, 16 pipe buffers (larger ones go through a file: ipc-spool.ts)
  const payload = new Float32Array(SPOOL_MIN_BYTES / 4 - 1);
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
    // under the spool threshold: it goes through the pipe, so the kill comes mid-write
    const { sent, answer } = helper.post({
      type: "echo",
      payload: new Float32Array(SPOOL_MIN_BYTES / 4 - 1),
    });
    answer.catch(() => {});
    process.kill(helper.pid!, "SIGKILL");
    await sent;
    await expect(answer).rejects.toThrow(/device 1 \(child process \d+, CUDA_VISIBLE_DEVICES=1\)/);
  } finally {
    await dying.close();
  }
}, 60_000);

// WorkerPool.postStep: what a data-parallel step (vq-step.ts, trainer-2b's parallel-step.ts) sends
describe("postStep", () => {
  type Answer = { grads: Float32Array; carried: boolean };
  const entry = workerEntry(import.meta.url, "echo-worker");

  test("a worker thread gets the shared buffers with its first step only, and answers in them", async () => {
    const threads = new WorkerPool(entry, 3, { type: "init" }, "thread");
    try {
      await threads.ready();
      const weights = stepBuffer(4);
      const outs = [stepBuffer(4), stepBuffer(4)];
      weights.set([1, 2, 3, 4]);
      const first = await Promise.all(
        await threads.postStep<Answer>({ weights }, outs, [{ k: 2 }, { k: 3 }]),
      );
      expect(first.map((a) => a.carried)).toEqual([true, true]);
      expect(first[0]!.grads).toBe(outs[0]);
      expect([...outs[1]!]).toEqual([3, 6, 9, 12]);
      // the next step's weights, written where the helpers already read them
      weights.set([1, 1, 1, 1]);
      const second = await Promise.all(
        await threads.postStep<Answer>({ weights }, outs, [{ k: 5 }, { k: 7 }]),
      );
      expect(second.map((a) => a.carried)).toEqual([false, false]);
      expect([...outs[0]!]).toEqual([5, 5, 5, 5]);
      expect([...second[1]!.grads]).toEqual([7, 7, 7, 7]);
    } finally {
      await threads.close();
    }
  }, 60_000);

  test("a process gets the weights with every step and sends its gradients back", async () => {
    await pool.ready();
    const weights = new Float32Array([1, 2]);
    const [one] = await Promise.all(await pool.postStep<Answer>({ weights }, [], [{ k: 2 }]));
    weights.set([3, 4]);
    const [two] = await Promise.all(await pool.postStep<Answer>({ weights }, [], [{ k: 2 }]));
    expect([one!.carried, two!.carried]).toEqual([true, true]);
    expect([...two!.grads]).toEqual([6, 8]);
  }, 60_000);

  test("a step with fewer shards than helpers leaves the rest idle; more than helpers is refused", async () => {
    const threads = new WorkerPool(entry, 3, { type: "init" }, "thread");
    try {
      await threads.ready();
      const weights = stepBuffer(1);
      weights[0] = 1;
      const outs = [stepBuffer(1), stepBuffer(1)];
      const answers = await threads.postStep<Answer>({ weights }, outs, [{ k: 4 }]);
      expect(answers).toHaveLength(1);
      expect((await answers[0]!).grads[0]).toBe(4);
      // the idle helper gets the shared buffers with the first step it is given
      const next = await Promise.all(await threads.postStep<Answer>({ weights }, outs, [{ k: 1 }, { k: 2 }]));
      expect(next.map((a) => a.carried)).toEqual([false, true]);
      await expect(threads.postStep({ weights }, outs, [{ k: 1 }, { k: 1 }, { k: 1 }])).rejects.toThrow(
        /3 requests for 2 helpers/,
      );
    } finally {
      await threads.close();
    }
  }, 60_000);
});

test("a process's large arrays go both ways through its pool's spool folder, emptied as read and removed at close", async () => {
  const mine = () => readdirSync(spoolRoot()).filter((d) => d.startsWith(`laion-ipc-${process.pid}-`));
  const before = new Set(mine());
  const big = new WorkerPool(workerEntry(import.meta.url, "echo-worker"), 2, { type: "init" }, "process");
  try {
    await big.ready();
    const [folder] = mine().filter((d) => !before.has(d));
    expect(folder).toBeDefined();
    const weights = new Float32Array(4 << 20).map((_, j) => j % 7);
    const [answer] = await Promise.all(
      await big.postStep<{ grads: Float32Array }>({ weights }, [], [{ k: 3 }]),
    );
    expect(answer!.grads).toBeInstanceOf(Float32Array);
    expect(answer!.grads.length).toBe(weights.length);
    expect(answer!.grads[13]).toBe(3 * (13 % 7));
    expect(readdirSync(path.join(spoolRoot(), folder!))).toEqual([]);
    await big.close();
    expect(mine().filter((d) => !before.has(d))).toEqual([]);
  } finally {
    await big.close();
  }
}, 60_000);
