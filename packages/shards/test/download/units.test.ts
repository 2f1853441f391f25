import { describe, expect, test } from "vitest";
import {
  computeKey,
  isDisallowedByRobots,
  isPrivateAddress,
  ownsShard,
  pythonJson,
  resolveWorkerSlot,
  shardName,
} from "../../src/download/index.js";

describe("computeKey (img2dataset's compute_key)", () => {
  test("shard id then zero-padded index, digits from the shard size", () => {
    // img2dataset: compute_key(key=5, shard_id=3, oom_sample_per_shard=4, oom_shard_count=5) == "000030005"
    expect(computeKey({ indexInShard: 5, shardId: 3, shardSize: 10_000 })).toBe("000030005");
    expect(computeKey({ indexInShard: 999, shardId: 12, shardSize: 1000 })).toBe("00012999");
    expect(computeKey({ indexInShard: 0, shardId: 0, shardSize: 10 })).toBe("000000");
    expect(computeKey({ indexInShard: 7, shardId: 123_456, shardSize: 100 })).toBe("12345607");
    expect(shardName(42)).toBe("00042");
  });
  test("keys are unique across shards and indexes", () => {
    const keys = new Set<string>();
    for (let s = 0; s < 30; s++)
      for (let i = 0; i < 100; i++) keys.add(computeKey({ indexInShard: i, shardId: s, shardSize: 100 }));
    expect(keys.size).toBe(3000);
  });
});

describe("worker split", () => {
  test("worker subsets are disjoint and cover every shard", () => {
    for (const workerCount of [1, 2, 3, 7]) {
      const owners = Array.from({ length: 100 }, (_, shard) =>
        Array.from({ length: workerCount }, (_, workerIndex) => workerIndex).filter((workerIndex) =>
          ownsShard(shard, { workerIndex, workerCount }),
        ),
      );
      expect(owners.every((o) => o.length === 1)).toBe(true);
    }
  });
  test("JOB_COMPLETION_INDEX gives the index of a Kubernetes Indexed Job pod", () => {
    expect(resolveWorkerSlot({ workerCount: 4 }, { JOB_COMPLETION_INDEX: "2" })).toEqual({
      workerIndex: 2,
      workerCount: 4,
    });
    expect(resolveWorkerSlot({ workerIndex: 1, workerCount: 4 }, { JOB_COMPLETION_INDEX: "2" })).toEqual({
      workerIndex: 1,
      workerCount: 4,
    });
    expect(resolveWorkerSlot({}, {})).toEqual({ workerIndex: 0, workerCount: 1 });
    expect(() => resolveWorkerSlot({ workerCount: 4 }, { JOB_COMPLETION_INDEX: "4" })).toThrow(
      /JOB_COMPLETION_INDEX must be an integer from 0 to 3/,
    );
    expect(() => resolveWorkerSlot({ workerIndex: 5, workerCount: 2 }, {})).toThrow(
      /--worker-index must be an integer from 0 to 1/,
    );
  });
});

describe("X-Robots-Tag", () => {
  test.each([
    ["noai", true],
    ["noimageai", true],
    ["noindex, nofollow", true],
    ["NoImageIndex", true],
    ["nofollow", false],
    ["googlebot: noai", false],
    ["img2dataset: noai", true],
    ["laion-ts-downloader: noimageai", true],
    ["unavailable_after: 25 Jun 2010 15:00:00 PST", false],
  ])("%s → %s", (value, disallowed) => {
    expect(isDisallowedByRobots(value)).toBe(disallowed);
  });
  test("several headers, and an empty directive list disables the check", () => {
    expect(isDisallowedByRobots(["googlebot: noindex", "noai"])).toBe(true);
    expect(isDisallowedByRobots("noai", [])).toBe(false);
  });
});

describe("private addresses", () => {
  test.each([
    ["127.0.0.1", true],
    ["10.1.2.3", true],
    ["172.20.0.1", true],
    ["192.168.1.1", true],
    ["169.254.169.254", true],
    ["100.64.0.1", true],
    ["0.0.0.0", true],
    ["::1", true],
    ["fe80::1", true],
    ["fd00::1", true],
    ["::ffff:127.0.0.1", true],
    ["::ffff:7f00:1", true],
    ["8.8.8.8", false],
    ["93.184.216.34", false],
    ["2606:4700:4700::1111", false],
    ["::ffff:8.8.8.8", false],
  ])("%s → %s", (address, blocked) => {
    expect(isPrivateAddress(address)).toBe(blocked);
  });
});

test("sample json is laid out as Python's json.dumps(indent=4), non-ASCII escaped", () => {
  expect(pythonJson({ caption: "ශ්‍රී 😀 é", w: 1, e: null })).toBe(
    '{\n    "caption": "\\u0dc1\\u0dca\\u200d\\u0dbb\\u0dd3 \\ud83d\\ude00 \\u00e9",\n    "w": 1,\n    "e": null\n}',
  );
  expect(JSON.parse(pythonJson({ caption: "ශ්‍රී 😀" })).caption).toBe("ශ්‍රී 😀");
});
