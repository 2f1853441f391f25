import v8 from "node:v8";
import { afterEach, expect, test, vi } from "vitest";
import { nodeFlagGiven, setV8Flags } from "../src/index.js";

afterEach(() => {
  vi.restoreAllMocks();
});

const FLAG = { name: "heap-growing-percent", value: 300, v8Default: 0 };

test("nodeFlagGiven: by name, with or without a value, dashes or underscores, command line or NODE_OPTIONS", () => {
  expect(nodeFlagGiven("--heap-growing-percent=300", ["--heap-growing-percent=50"], "")).toBe(true);
  expect(
    nodeFlagGiven("--heap-growing-percent", [], "--max-old-space-size=99 --heap_growing_percent=5"),
  ).toBe(true);
  expect(nodeFlagGiven("--heap-growing-percent", ["--heap-growing"], "--heap-growing-percentage=1")).toBe(
    false,
  );
});

test("setV8Flags sets each flag and returns what sets V8's default back; a flag the user gave node is left alone", () => {
  const calls: string[] = [];
  vi.spyOn(v8, "setFlagsFromString").mockImplementation((f: string) => {
    calls.push(f);
  });
  setV8Flags([FLAG])();
  expect(calls).toEqual(["--heap-growing-percent=300", "--heap-growing-percent=0"]);
  calls.length = 0;
  vi.stubEnv("NODE_OPTIONS", "--heap-growing-percent=20");
  try {
    setV8Flags([FLAG])();
  } finally {
    vi.unstubAllEnvs();
  }
  expect(calls).toEqual([]);
});
