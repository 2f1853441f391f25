import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, test } from "vitest";

// The benches' flag checks (tools/bench/bench-inputs.mjs `benchFlags`), through a real bench: a bad flag
// stops it at once with exit code 2 and a message naming the flag, before it loads any package.
const root = path.resolve(import.meta.dirname, "../..");
const threadsBench = path.join(root, "tools/bench/threads.bench.mjs");

const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [threadsBench, ...args], { encoding: "utf8", timeout: 30_000 });
  return { code: r.status, err: r.stderr };
};

describe("threads.bench.mjs --trainer-batch", () => {
  test("an odd batch with --grad-accum is refused, naming the flag", () => {
    const r = run("--trainer-batch", "7", "--grad-accum");
    expect(r.code).toBe(2);
    expect(r.err).toContain("--trainer-batch must be even with --grad-accum");
    expect(r.err).toContain("got 7");
  });

  test.each(["0", "-4", "2.5"])("%s is refused as not a positive integer", (value) => {
    const r = run(`--trainer-batch=${value}`);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`--trainer-batch must be a positive integer, got ${Number(value)}`);
  });

  test("a word is refused as not a number", () => {
    const r = run("--trainer-batch", "many");
    expect(r.code).toBe(2);
    expect(r.err).toContain('--trainer-batch must be a number, got "many"');
  });
});
