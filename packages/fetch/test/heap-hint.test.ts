import v8 from "node:v8";
import vm from "node:vm";
import { fixturePath } from "@laion/test-servers";
import { afterEach, expect, test, vi } from "vitest";
import { main } from "../src/command.js";
import { fetchLaionSubset } from "../src/fetch-subset.js";
import { gcFunction, memoryTick, OWN_PROCESS_MEMORY, oldSpaceLimiter } from "../src/heap-hint.js";
import { writeFiltered } from "../src/write-filtered.js";
import { tempDir } from "./helpers.js";

afterEach(() => {
  vi.restoreAllMocks();
});

test("V8's gc() is reached without --expose-gc, and no other context gets it", () => {
  expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
  const gc = gcFunction();
  expect(typeof gc).toBe("function");
  // the flag was set only while one context was made: the caller's global and later contexts stay as they were
  expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
  expect(vm.runInNewContext("typeof gc")).toBe("undefined");
  // made once per process
  expect(gcFunction()).toBe(gc);
});

test("a full GC is started each time the old generation grows a step past its lowest size since the last", () => {
  const MB = 1 << 20;
  const readings = [10, 11, 9, 10.9, 11.1, 12, 10, 11.9, 12.1].map((m) => m * MB);
  const started: number[] = [];
  let made = 0;
  let at = 0;
  const tick = oldSpaceLimiter({
    step: 2 * MB,
    used: () => readings[at]!,
    gc: () => {
      made++;
      return (options) => {
        expect(options).toEqual({ type: "major", execution: "async" });
        started.push(at);
      };
    },
  });
  for (at = 0; at < readings.length; at++) tick();
  // floor 9 MB (reading 2): 11.1 starts one (reading 4); the next floor is 10 (reading 6): 11.9 does not, 12.1 does
  expect(started).toEqual([4, 8]);
  expect(made).toBe(1);
});

test("memory settings: off unless given; a GC step that is not a number > 0 is refused naming the field", () => {
  expect(memoryTick(undefined)).toBeUndefined();
  expect(memoryTick({})).toBeUndefined();
  const tick = memoryTick(OWN_PROCESS_MEMORY);
  expect(tick).toBeTypeOf("function");
  expect(() => tick!()).not.toThrow();
  for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, "2" as unknown as number])
    expect(() => memoryTick({ gcStepMb: bad })).toThrow(/memory\.gcStepMb must be a number > 0/);
});

/** Rows in batches of 10 (the sink ticks once per batch). */
async function* batches(n: number) {
  for (let b = 0; b < n; b++)
    yield Array.from({ length: 10 }, (_, i) => ({
      URL: `https://e.com/${b}-${i}.jpg`,
      TEXT: `caption ${i}`,
    }));
}

// The tick reads the old generation's size (v8.getHeapSpaceStatistics) once per batch: counting those
// reads tells whether the GC step runs, without waiting for a GC.
test("the library leaves its host's GC alone by default; memory.gcStepMb turns the step on", async () => {
  const reads = vi.spyOn(v8, "getHeapSpaceStatistics");
  const dir = tempDir();
  await writeFiltered({ rows: batches(5), outPath: `${dir}/a.parquet` });
  expect(reads).not.toHaveBeenCalled();
  await writeFiltered({ rows: batches(5), outPath: `${dir}/b.parquet`, memory: { gcStepMb: 2 } });
  expect(reads).toHaveBeenCalledTimes(5);
  await expect(
    writeFiltered({ rows: batches(1), outPath: `${dir}/c.parquet`, memory: { gcStepMb: 0 } }),
  ).rejects.toThrow(/memory\.gcStepMb/);
});

test("fetchLaionSubset steps GC only when asked; the bin asks (its process is its own)", async () => {
  const reads = vi.spyOn(v8, "getHeapSpaceStatistics");
  const input = fixturePath("laion/test_1000.parquet");
  await fetchLaionSubset({ input: [input], outDir: tempDir() });
  expect(reads).not.toHaveBeenCalled();
  await fetchLaionSubset({ input: [input], outDir: tempDir(), memory: OWN_PROCESS_MEMORY });
  const asked = reads.mock.calls.length;
  expect(asked).toBeGreaterThan(0);
  const io = { env: {}, stdout: { write: () => true }, stderr: { write: () => true }, setExitCode: () => {} };
  await main(["--input", input, "--out-dir", tempDir()], io as never);
  expect(reads.mock.calls.length).toBe(2 * asked);
  await expect(
    fetchLaionSubset({ input: [input], outDir: tempDir(), memory: { gcStepMb: -1 } }),
  ).rejects.toThrow(/memory\.gcStepMb must be a number > 0 \(MB\), got -1/);
});
