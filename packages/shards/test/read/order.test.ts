import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { WebDataset, type WebDatasetOptions } from "../../src/index.js";
import { collect, tempDir, writeShards } from "./helpers.js";

const tmp = tempDir();
afterAll(tmp.cleanup);
let shards: string[] = [];
let pattern = "";

beforeAll(async () => {
  shards = await writeShards(tmp.dir, 10, 10);
  pattern = `${tmp.dir}/shard-{00000..00009}.tar`;
});

const keys = async (options: WebDatasetOptions, urls: string | string[] = pattern, limit?: number) =>
  (await collect(WebDataset(urls, options), limit)).map((s) => s.__key__);
const natural = () =>
  Array.from(
    { length: 100 },
    (_, i) => `s${String(Math.floor(i / 10)).padStart(3, "0")}-${String(i % 10).padStart(4, "0")}`,
  );

describe("shuffling", () => {
  test("without shuffle options the order is the shards' order, then the tar order", async () => {
    expect(await keys({})).toEqual(natural());
  });

  test("same seed and epoch give the same order; another epoch or seed gives another; every sample appears once", async () => {
    const options = { shuffleShards: true, shuffleBuffer: 20, seed: 7 };
    const a = await keys({ ...options, epoch: 3 });
    expect(await keys({ ...options, epoch: 3 })).toEqual(a);
    const otherEpoch = await keys({ ...options, epoch: 4 });
    const otherSeed = await keys({ ...options, seed: 8, epoch: 3 });
    expect(otherEpoch).not.toEqual(a);
    expect(otherSeed).not.toEqual(a);
    for (const order of [a, otherEpoch, otherSeed]) expect([...order].sort()).toEqual(natural());
    expect(a).not.toEqual(natural());
  });

  test("the same dataset object iterated twice replays the same order", async () => {
    const dataset = WebDataset(pattern, { shuffleShards: true, shuffleBuffer: 5, seed: 1 });
    const first = (await collect(dataset)).map((s) => s.__key__);
    expect((await collect(dataset)).map((s) => s.__key__)).toEqual(first);
  });

  test("shuffleShards alone keeps each shard's samples together, in tar order", async () => {
    const order = await keys({ shuffleShards: true, seed: 3 });
    const shardOrder = order.filter((_, i) => i % 10 === 0).map((k) => k.slice(0, 4));
    expect(shardOrder).not.toEqual(
      natural()
        .filter((_, i) => i % 10 === 0)
        .map((k) => k.slice(0, 4)),
    );
    for (let s = 0; s < 10; s++) {
      const block = order.slice(s * 10, s * 10 + 10);
      expect(block).toEqual(natural().filter((k) => k.startsWith(shardOrder[s] as string)));
    }
  });

  test("the sample buffer is bounded: output i comes from the first i + bufferSize inputs", async () => {
    const bufferSize = 8;
    const order = await keys({ shuffleBuffer: bufferSize, seed: 11 });
    const position = new Map(natural().map((k, i) => [k, i]));
    order.forEach((k, i) => {
      expect(position.get(k)).toBeLessThan(i + bufferSize);
    });
    expect(order).not.toEqual(natural());
  });
});

describe("split by rank and worker", () => {
  test("3 ranks × 2 workers: parts are disjoint and cover every sample, for plain and shuffled shard orders", async () => {
    for (const extra of [{}, { shuffleShards: true, seed: 5, epoch: 2 }]) {
      const parts: string[][] = [];
      for (let rank = 0; rank < 3; rank++) {
        for (let workerId = 0; workerId < 2; workerId++) {
          parts.push(await keys({ ...extra, split: { rank, worldSize: 3, workerId, numWorkers: 2 } }));
        }
      }
      const all = parts.flat();
      expect(new Set(all).size).toBe(all.length);
      expect([...all].sort()).toEqual(natural());
      expect(parts.every((p) => p.length > 0)).toBe(true);
    }
  });

  test("a reader left without shards is an error that says how many shards there are", async () => {
    await expect(keys({ split: { rank: 3, worldSize: 4 } }, shards.slice(0, 3))).rejects.toThrow(
      /reader 3 of 4 .* gets no shards: there are only 3/,
    );
  });
});

describe("resample", () => {
  test("is infinite, draws shards with replacement, and is deterministic for a seed", async () => {
    const a = await keys({ resample: true, seed: 2 }, shards.slice(0, 3), 250);
    expect(a).toHaveLength(250); // more than the 30 samples that exist
    expect(new Set(a).size).toBeLessThanOrEqual(30);
    expect(await keys({ resample: true, seed: 2 }, shards.slice(0, 3), 250)).toEqual(a);
    expect(await keys({ resample: true, seed: 2, epoch: 1 }, shards.slice(0, 3), 250)).not.toEqual(a);
    // Shards appear in runs of 10 samples; with replacement the shard sequence is not a cycle of 3.
    const shardSeq = a.filter((_, i) => i % 10 === 0).map((k) => k.slice(0, 4));
    const isCycle = shardSeq.every((s, i) => i < 3 || s === shardSeq[i - 3]);
    expect(isCycle).toBe(false);
  });

  test("gives up with an error when no shard yields samples, instead of spinning", async () => {
    await expect(
      keys(
        { resample: true, handler: "ignore" },
        [`${tmp.dir}/missing-a.tar`, `${tmp.dir}/missing-b.tar`],
        5,
      ),
    ).rejects.toThrow(/shards in a row gave no samples while resampling/);
  });
});

describe("memory", () => {
  test("samples held in a shuffle buffer own compact bytes (they keep no read buffer alive)", async () => {
    const samples = await collect(WebDataset(shards.slice(0, 2), { shuffleBuffer: 10, seed: 1 }));
    expect(samples).toHaveLength(20);
    for (const s of samples) {
      for (const ext of ["txt", "cls"]) {
        const bytes = s[ext] as Uint8Array;
        expect(bytes.buffer.byteLength).toBe(bytes.byteLength);
      }
    }
  });
});
