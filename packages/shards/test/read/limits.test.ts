import { writeFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { type Listening, serve } from "@laion/test-servers";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { type ShardError, WebDataset } from "../../src/index.js";
import { collect, shard, tarBuffer, tempDir } from "./helpers.js";

const MiB = 1 << 20;
const zeros = (n: number) => Buffer.alloc(n);

describe("member and shard byte caps", () => {
  const tmp = tempDir("shards-limits-");
  afterAll(() => tmp.cleanup());

  test("a .tar.gz whose member inflates past max-member-bytes: that member is skipped by name, the rest is read", async () => {
    const tar = await tarBuffer([
      { name: "a.txt", data: "first" },
      { name: "bomb.bin", data: zeros(8 * MiB) },
      { name: "b.txt", data: "second" },
    ]);
    const file = path.join(tmp.dir, "bomb.tar.gz");
    writeFileSync(file, gzipSync(tar));
    await expect(collect(WebDataset(file, { maxMemberBytes: MiB }))).rejects.toThrow(
      `${file} (member bomb.bin): member is ${8 * MiB} bytes, over max-member-bytes (${MiB}); skipped`,
    );
    const errors: ShardError[] = [];
    const samples = await collect(
      WebDataset(file, { maxMemberBytes: MiB, handler: "ignore", onError: (e) => errors.push(e) }),
    );
    expect(samples.map((s) => s.__key__)).toEqual(["a", "b"]);
    expect(errors.map((e) => [e.url, e.member])).toEqual([[file, "bomb.bin"]]);
  });

  test.each([
    [
      "states its size",
      false,
      `gunzipped member is over max-member-bytes (${MiB}; its gzip trailer says ${16 * MiB})`,
    ],
    ["lies about its size", true, `gunzipped member is over max-member-bytes (${MiB}); skipped`],
  ])(
    "a plain tar holding a .txt.gz bomb that %s: refused by name, never inflated past the cap",
    async (_, lie, message) => {
      const bomb = gzipSync(zeros(16 * MiB));
      if (lie) bomb.writeUInt32LE(4, bomb.length - 4); // the trailer claims 4 bytes
      const file = path.join(tmp.dir, `member-bomb-${lie}.tar`);
      writeFileSync(
        file,
        await tarBuffer([
          { name: "x.txt.gz", data: bomb },
          { name: "y.txt.gz", data: gzipSync("fine") },
        ]),
      );
      const errors: ShardError[] = [];
      const samples = await collect(
        WebDataset(file, { maxMemberBytes: MiB, handler: "ignore", onError: (e) => errors.push(e) }),
      );
      expect(samples.map((s) => [s.__key__, Buffer.from(s.txt as Uint8Array).toString()])).toEqual([
        ["y", "fine"],
      ]);
      expect(errors).toHaveLength(1);
      expect(errors[0]?.member).toBe("x.txt.gz");
      expect(errors[0]?.message).toContain(message);
    },
  );

  test("max-shard-bytes stops a shard (after gunzip) with an error naming it, keeping the samples before", async () => {
    const members = Array.from({ length: 20 }, (_, i) => ({ name: `k${i}.bin`, data: zeros(64 * 1024) }));
    const file = path.join(tmp.dir, "long.tgz");
    writeFileSync(file, gzipSync(await tarBuffer(members)));
    const errors: ShardError[] = [];
    const samples = await collect(
      WebDataset(file, { maxShardBytes: 512 * 1024, handler: "ignore", onError: (e) => errors.push(e) }),
    );
    expect(samples.length).toBeGreaterThan(0);
    expect(samples.length).toBeLessThan(20);
    expect(errors[0]?.message).toMatch(/over max-shard-bytes \(524288 tar bytes after gunzip/);
  });

  test("the real fixtures read whole under the default caps", async () => {
    expect(await collect(WebDataset(shard("testgz.tar")))).toHaveLength(1000);
  });

  test("bad caps are rejected when the dataset is made, naming the option", () => {
    expect(() => WebDataset(shard("tendata.tar"), { maxMemberBytes: 0 })).toThrow(
      "WebDataset: maxMemberBytes must be an integer ≥ 1, got 0",
    );
    expect(() => WebDataset(shard("tendata.tar"), { timeoutMs: 1.5 })).toThrow("timeoutMs");
  });
});

describe("http(s):// timeouts", () => {
  let server: Listening;
  let base = "";
  let tar: Buffer;
  // the stalling server sends this much of the body: 6 whole samples (512-byte header + 32 KiB each)
  // and the start of the 7th, then nothing more
  const SENT = 200 * 1024;
  const WHOLE_SAMPLES = Math.floor(SENT / (512 + 32 * 1024));
  // Synchronous work on the reader's thread (a training step) longer than timeoutMs, begun in a
  // setImmediate callback while the reader waits: when it ends, the event loop runs the expired timer
  // (timers phase) before it reads the bytes that arrived meanwhile (poll phase).
  const BLOCK_MS = 1000;
  const block = () => {
    const until = performance.now() + BLOCK_MS;
    while (performance.now() < until) {
      // the training step
    }
  };
  let small: Buffer; // three 4 KiB samples
  const HELD_AT = 2 * (512 + 4096) + 512 + 1024; // s0 and s1 whole, then part of s2
  let held: ServerResponse | undefined;
  beforeAll(async () => {
    tar = await tarBuffer(
      Array.from({ length: 40 }, (_, i) => ({ name: `s${i}.bin`, data: zeros(32 * 1024) })),
    );
    small = await tarBuffer([0, 1, 2].map((i) => ({ name: `s${i}.bin`, data: zeros(4096) })));
    server = await serve((req, res) => {
      if (req.url === "/silent.tar") return; // never answers: no status line, no headers
      if (req.url === "/late-headers.tar") {
        // the answer waits in the socket while this thread is busy
        setImmediate(() => {
          res.writeHead(200).end(small);
          block();
        });
        return;
      }
      if (req.url === "/held.tar") {
        res.writeHead(200).write(small.subarray(0, HELD_AT)); // the rest when the test says
        held = res;
        return;
      }
      if (req.url === "/stall.tar") {
        res.writeHead(200, { "content-type": "application/x-tar" });
        res.write(tar.subarray(0, SENT)); // part of the body, then nothing more
        return;
      }
      res.writeHead(200).end(tar);
    });
    base = server.url;
  });
  afterAll(() => server.close());

  test("a server that never sends headers is a named error after timeoutMs, not a hang", async () => {
    const started = Date.now();
    await expect(collect(WebDataset(`${base}/silent.tar`, { timeoutMs: 300 }))).rejects.toThrow(
      `${base}/silent.tar: cannot open: no response headers within 300 ms`,
    );
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test("a body that stalls mid-way ends the shard with an error; the samples before it are kept", async () => {
    // The reader's clock is the test's, and it moves only once a sample has arrived, so the error always
    // comes from the server's silence mid-body. On the wall clock (300 ms), a process descheduled on a
    // loaded machine timed out before the first byte: 0 samples (reproduced with the test pinned to a
    // busy core).
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const errors: ShardError[] = [];
      const samples = WebDataset(`${base}/stall.tar`, {
        timeoutMs: 300,
        handler: "ignore",
        onError: (e) => errors.push(e),
      })[Symbol.asyncIterator]();
      const first = await samples.next();
      expect(first.done).toBe(false);
      let ended = false;
      const rest = collect({ [Symbol.asyncIterator]: () => samples }).finally(() => {
        ended = true;
      });
      while (!ended) {
        await new Promise((resolve) => setImmediate(resolve));
        vi.advanceTimersByTime(300);
      }
      // whole samples only, and only from the bytes the server sent
      expect(1 + (await rest).length).toBeLessThanOrEqual(WHOLE_SAMPLES);
      expect(errors.map((e) => e.message)).toEqual([
        expect.stringContaining("server sent nothing for 300 ms"),
      ]);
    } finally {
      vi.useRealTimers();
    }
  });

  test("headers that arrived while this thread was busy past timeoutMs are read, not timed out", async () => {
    const samples = await collect(WebDataset(`${base}/late-headers.tar`, { timeoutMs: 500 }));
    expect(samples.map((s) => s.__key__)).toEqual(["s0", "s1", "s2"]);
  });

  test("body bytes that arrived while this thread was busy past timeoutMs are read, not timed out", async () => {
    const keys: string[] = [];
    for await (const sample of WebDataset(`${base}/held.tar`, { timeoutMs: 500 })) {
      keys.push(sample.__key__);
      // s0 is out once s1 is read whole; the reader now waits for the rest of s2, its timer armed
      if (keys.length === 1)
        setImmediate(() => {
          held?.end(small.subarray(HELD_AT));
          block();
        });
    }
    expect(keys).toEqual(["s0", "s1", "s2"]);
  });

  test("a slow consumer does not trip the timeout (it only runs while the reader waits on the server)", async () => {
    // the consumer holds a sample longer than timeoutMs while the server's data waits in the socket; the
    // timeout is wide (a reader waiting on a loaded machine's local server) and the hold wider still
    let n = 0;
    for await (const _ of WebDataset(`${base}/ok.tar`, { timeoutMs: 1500 })) {
      if (n++ === 1) await new Promise((resolve) => setTimeout(resolve, 2000));
    }
    expect(n).toBe(40);
  });
});
