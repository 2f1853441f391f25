// The conventions every @laion bin shares (cli-kit's runCommand): --version from package.json, --help
// with grouped options, and flags named in errors.
import { readFileSync } from "node:fs";
import { runCaptured } from "@laion/test-servers";
import { expect, test } from "vitest";
import { main } from "../src/command.js";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));

test("--version prints the package version", async () => {
  expect(await runCaptured(main, ["--version"])).toEqual({ out: `${version}\n`, err: "", code: 0 });
});

test("--help groups the options, the shared ones last", async () => {
  const { out, code } = await runCaptured(main, ["--help"]);
  expect(code).toBe(0);
  expect([...out.matchAll(/^(\w[^:\n]*):$/gm)].map((m) => m[1])).toEqual([
    "Source (the hub by default)",
    "Rows taken",
    "Filters (each only where its column exists)",
    "Output and network",
    "General",
  ]);
  expect(out).toMatch(/-q, --quiet[\s\S]*--verbose[\s\S]*-V, --version/);
});

test("a bad value and a flag missing its value are named", async () => {
  const bad = await runCaptured(main, ["--max-samples", "0"]);
  expect(bad.code).toBe(1);
  expect(bad.err).toMatch(/--max-samples must be an integer >= 1, got "0"/);
  const missing = await runCaptured(main, ["--out-dir"]);
  expect(missing.code).toBe(1);
  expect(missing.err).toMatch(/option '--out-dir <dir>' argument missing/);
});
