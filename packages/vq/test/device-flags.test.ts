import { Command } from "commander";
import { describe, expect, test } from "vitest";
import { threadsOption } from "../src/device-flags.js";
import { availableCores, trainingThreads } from "../src/worker-pool.js";

describe("the device flags the tfjs bins share", () => {
  const parse = (argv: string[], shares = "each batch", key?: string) =>
    new Command().exitOverride().addOption(threadsOption(shares, key)).parse(argv, { from: "user" }).opts();

  test("--threads is a count from 1 to 256; anything else is an error naming the flag", () => {
    expect(parse(["--threads", "3"])).toEqual({ threads: 3 });
    expect(parse([])).toEqual({});
    expect(() => parse(["--threads", "0"])).toThrow(/--threads/);
    expect(() => parse(["--threads", "two"])).toThrow(/--threads/);
    expect(() => parse(["--threads", "257"])).toThrow(/--threads/);
  });

  test("the help says what the threads share and which YAML key sets them", () => {
    const help = threadsOption("each micro-batch", "training.threads").description;
    expect(help).toContain("each micro-batch");
    expect(help).toContain("training.threads");
    expect(threadsOption("each batch").description).not.toContain("training.threads");
  });

  test("one default: every core on wasm, one thread on any other backend", () => {
    expect(trainingThreads("wasm")).toBe(availableCores());
    expect(trainingThreads("wasm", null)).toBe(availableCores());
    expect(trainingThreads("wasm", 3)).toBe(3);
    expect(trainingThreads("webgpu", 3)).toBe(1);
    expect(trainingThreads("tfjs-node-gpu")).toBe(1);
  });
});
