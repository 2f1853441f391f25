import vm from "node:vm";
import { expect, test } from "vitest";
import { gcFunction, limitOldSpaceGrowth, oldSpaceLimiter } from "../src/heap-hint.js";

test("V8's gc() is reached without --expose-gc, and no other context gets it", () => {
  expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
  const gc = gcFunction();
  expect(typeof gc).toBe("function");
  // the flag was set only while one context was made: the caller's global and later contexts stay as they were
  expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
  expect(vm.runInNewContext("typeof gc")).toBe("undefined");
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

test("the real limiter finds V8's gc() and runs without error", () => {
  expect(() => limitOldSpaceGrowth()).not.toThrow();
});
