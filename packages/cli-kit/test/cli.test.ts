import { Writable } from "node:stream";
import { Command } from "commander";
import { describe, expect, test } from "vitest";
import { boolOption, CliError, floatOption, intOption, redact, runCli } from "../src/index.js";

function capture() {
  let text = "";
  const stream = new Writable({
    write(chunk, _e, cb) {
      text += String(chunk);
      cb();
    },
  });
  return { stream, text: () => text };
}

describe("flag parsers name the flag and the allowed values", () => {
  test("intOption", () => {
    expect(intOption("--max-samples", { min: 1 })("50")).toBe(50);
    expect(() => intOption("--max-samples", { min: 1 })("0")).toThrow(
      '--max-samples must be an integer >= 1, got "0"',
    );
    expect(() => intOption("--shard-size", { min: 1 })("1.5")).toThrow("--shard-size must be an integer");
    expect(() => intOption("--x")("abc")).toThrow('got "abc"');
  });
  test("floatOption", () => {
    expect(floatOption("--laion-prob", { min: 0, max: 1 })("0.25")).toBe(0.25);
    expect(() => floatOption("--laion-prob", { min: 0, max: 1 })("1.5")).toThrow(
      '--laion-prob must be a number between 0 and 1, got "1.5"',
    );
    expect(() => floatOption("--laion-prob")("")).toThrow("--laion-prob");
  });
  test("boolOption", () => {
    expect(boolOption("--disallow-robots-header")("false")).toBe(false);
    expect(boolOption("--disallow-robots-header")("TRUE")).toBe(true);
    expect(() => boolOption("--disallow-robots-header")("maybe")).toThrow("must be true or false");
  });
  test("commander reports the parser's message", async () => {
    const err = capture();
    const program = new Command()
      .exitOverride()
      .configureOutput({ writeErr: (s) => err.stream.write(s) })
      .option("--max-samples <n>", "rows", intOption("--max-samples", { min: 1 }));
    expect(() => program.parse(["node", "x", "--max-samples", "-3"])).toThrow();
    expect(err.text()).toContain("--max-samples must be an integer >= 1");
  });
});

describe("runCli", () => {
  test("prints one error line, sets the exit code, and redacts secrets", async () => {
    const err = capture();
    let code = 0;
    await runCli(
      () => {
        throw new CliError("401 for token hf_secret_abcdef: accept the terms", 3);
      },
      { stderr: err.stream, setExitCode: (c) => (code = c), secrets: () => ["hf_secret_abcdef"] },
    );
    expect(err.text()).toBe("error: 401 for token ***: accept the terms\n");
    expect(code).toBe(3);
  });
  test("unexpected errors exit 1 without a stack unless DEBUG", async () => {
    const err = capture();
    let code = 0;
    await runCli(
      () => {
        throw new TypeError("boom");
      },
      { stderr: err.stream, setExitCode: (c) => (code = c) },
    );
    expect(err.text()).toBe("error: boom\n");
    expect(code).toBe(1);
  });
  test("success leaves the exit code alone", async () => {
    let code = -1;
    await runCli(async () => {}, { setExitCode: (c) => (code = c) });
    expect(code).toBe(-1);
  });
  test("redact ignores empty and very short secrets", () => {
    expect(redact("a b c", ["", undefined, "b"])).toBe("a b c");
  });
});
