import { Writable } from "node:stream";
import { describe, expect, test } from "vitest";
import { type CliCommand, intOption, packageVersion, runCommand } from "../src/index.js";

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

interface Options {
  input: string;
  count: number;
  token?: string;
}

const calls: Options[] = [];
const demo: CliCommand<Options> = {
  name: "demo-cli",
  version: () => packageVersion(import.meta.url),
  description: "A command for the tests.",
  required: ["--input"],
  define(program) {
    program
      .optionsGroup("Input:")
      .option("--input <file>", "what to read")
      .optionsGroup("Run:")
      .option("--count <n>", "how many", intOption("--count", { min: 1 }), 3)
      .option("--token <t>", "a secret");
  },
  async run(options, ctx) {
    calls.push(options);
    ctx.log("status line");
    ctx.debug("detail line");
    if (options.input === "bad") throw new Error(`cannot read ${options.input} with ${options.token}`);
    ctx.stdout.write(`read ${options.input} ×${options.count}\n`);
  },
  secrets: (o) => [o.token],
};

async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const out = capture();
  const err = capture();
  let code = 0;
  await runCommand(demo, argv, {
    env,
    stdout: out.stream,
    stderr: err.stream,
    setExitCode: (c) => (code = c),
  });
  return { out: out.text(), err: err.text(), code };
}

describe("runCommand: the one CLI pattern", () => {
  test("typed options reach run(); status lines go to stderr, the result to stdout", async () => {
    const r = await run(["--input", "a.txt", "--count", "2"]);
    expect(calls.at(-1)).toMatchObject({ input: "a.txt", count: 2 });
    expect(r).toEqual({ out: "read a.txt ×2\n", err: "status line\n", code: 0 });
  });

  test("--quiet drops status lines, --verbose and DEBUG add detail lines", async () => {
    expect((await run(["--input", "a", "--quiet"])).err).toBe("");
    expect((await run(["--input", "a", "--verbose"])).err).toBe("status line\ndetail line\n");
    expect((await run(["--input", "a"], { DEBUG: "1" })).err).toBe("status line\ndetail line\n");
  });

  test("--version prints the package.json version", async () => {
    const r = await run(["--version"]);
    expect(r.out.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(r.code).toBe(0);
  });

  test("--help groups the options and marks the required ones", async () => {
    const r = await run(["--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Input:\n\s+--input <file>\s+what to read \(required\)/);
    expect(r.out).toMatch(/Run:\n\s+--count <n>\s+how many \(default: 3\)\n/);
    expect(r.out).toMatch(/General:\n\s+-q, --quiet/);
    expect(r.out).not.toMatch(/--count <n>.*\(required\)/);
  });

  test("a bad flag value names the flag; an error prints one line with secrets scrubbed", async () => {
    const bad = await run(["--input", "a", "--count", "0"]);
    expect(bad.err).toContain("--count must be an integer >= 1");
    expect(bad.code).toBe(1);
    const failed = await run(["--input", "bad", "--token", "hf_secret_123"]);
    expect(failed.err).toBe("status line\nerror: cannot read bad with ***\n");
    expect(failed.code).toBe(1);
  });
});
