import { runCaptured } from "@laion/test-servers";
import { describe, expect, test } from "vitest";
import { debugEnabled } from "../src/cli-error.js";
import { type CliCommand, intOption, packageVersion, runCommand } from "../src/index.js";

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

function run(argv: string[], env: NodeJS.ProcessEnv = {}, command: CliCommand<never> = demo) {
  return runCaptured((args, io) => runCommand(command, args, io), argv, env);
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
    expect((await run(["--input", "a"], { DEBUG: "laion:*" })).err).toBe("status line\ndetail line\n");
    expect((await run(["--input", "a"], { DEBUG: "express:*" })).err).toBe("status line\n");
  });

  test("DEBUG lists namespaces as the debug package does: laion:<bin>, wildcards, exclusions", () => {
    expect(debugEnabled({ DEBUG: "laion:*" }, "demo-cli")).toBe(true);
    expect(debugEnabled({ DEBUG: "express:*,laion:demo-cli" }, "demo-cli")).toBe(true);
    expect(debugEnabled({ DEBUG: "laion:other" }, "demo-cli")).toBe(false);
    expect(debugEnabled({ DEBUG: "*,-laion:demo-cli" }, "demo-cli")).toBe(false);
    expect(debugEnabled({ DEBUG: "true" }, "demo-cli")).toBe(true);
    expect(debugEnabled({}, "demo-cli")).toBe(false);
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

interface ListOptions {
  urls: string[];
  limit?: number;
  token?: string;
}

const listed: { options: ListOptions; verbosity: string; argv: readonly string[] }[] = [];
const tool: CliCommand<never> = {
  name: "demo-tool",
  version: "1.2.3",
  description: "A command with subcommands.",
  subcommands: [
    {
      name: "ls",
      description: "list things",
      required: ["--token"],
      define(command) {
        command
          .argument("<urls...>", "what to list")
          .optionsGroup("Listing:")
          .option("--limit <n>", "stop after n", intOption("--limit", { min: 1 }))
          .option("--token <t>", "a secret");
      },
      async run(options: ListOptions, ctx) {
        listed.push({ options, verbosity: ctx.verbosity, argv: ctx.argv });
        if (!options.token) throw new Error("--token is needed");
        if (options.urls.includes("bad")) throw new Error(`bad url with ${options.token}`);
        ctx.stdout.write(`${options.urls.join(",")}\n`);
      },
    },
  ],
  secrets: (o) => [(o as { token?: string }).token],
};

describe("runCommand with subcommands", () => {
  test("positional arguments reach run() as options named after them; shared flags go before or after", async () => {
    const r = await run(["ls", "a", "b", "--limit", "2", "--token", "tok1", "--quiet"], {}, tool);
    expect(r).toEqual({ out: "a,b\n", err: "", code: 0 });
    expect(listed.at(-1)).toEqual({
      options: { urls: ["a", "b"], limit: 2, token: "tok1" },
      verbosity: "quiet",
      argv: ["ls", "a", "b", "--limit", "2", "--token", "tok1", "--quiet"],
    });
    await run(["--verbose", "ls", "a", "--token", "tok1"], {}, tool);
    expect(listed.at(-1)?.verbosity).toBe("verbose");
  });

  test("--version on the tool; a subcommand's --help shows its groups, required flags and the shared flags", async () => {
    expect((await run(["--version"], {}, tool)).out).toBe("1.2.3\n");
    const help = await run(["ls", "--help"], {}, tool);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(
      /Listing:\n\s+--limit <n>\s+stop after n\n\s+--token <t>\s+a secret \(required\)/,
    );
    expect(help.out).toMatch(/-q, --quiet/);
  });

  test("a bad value names the flag; a failing run prints one line with the subcommand's secrets scrubbed", async () => {
    expect((await run(["ls", "a", "--limit", "x"], {}, tool)).err).toContain(
      "--limit must be an integer >= 1",
    );
    const failed = await run(["ls", "bad", "--token", "secret_77"], {}, tool);
    expect(failed).toEqual({ out: "", err: "error: bad url with ***\n", code: 1 });
  });
});
