// The conventions every @laion bin shares (cli-kit's runCommand): --version from package.json, --help
// with grouped options on every subcommand, and flags named in errors.
import { readFileSync } from "node:fs";
import { runCaptured } from "@laion/test-servers";
import { expect, test } from "vitest";
import { trainerCli } from "../src/command.js";
import { STAGE_NAMES } from "../src/kaggle.js";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const groupsOf = (help: string) => [...help.matchAll(/^(\w[^:\n]*):$/gm)].map((m) => m[1]);

test("--version prints the app's version", async () => {
  expect(await runCaptured(trainerCli, ["--version"])).toEqual({ out: `${version}\n`, err: "", code: 0 });
});

test("--help lists kaggle, each stage and demo", async () => {
  const { out, code } = await runCaptured(trainerCli, ["--help"]);
  expect(code).toBe(0);
  const commands = [...out.matchAll(/^ {2}([a-z-]+) \[options\]/gm)].map((m) => m[1]);
  expect(commands).toEqual(["kaggle", ...STAGE_NAMES, "demo"]);
});

test("each subcommand's --help groups its options, the shared ones last", async () => {
  for (const name of ["kaggle", ...STAGE_NAMES]) {
    const { out, code } = await runCaptured(trainerCli, [name, "--help"]);
    expect(code).toBe(0);
    expect(groupsOf(out)).toEqual(["Pipeline", "Overrides of the app config", "General"]);
  }
  const demo = await runCaptured(trainerCli, ["demo", "--help"]);
  expect(groupsOf(demo.out)).toEqual(["Demo", "General"]);
  expect(demo.out).toMatch(/-q, --quiet[\s\S]*--verbose/);
});

test("a bad value and an unknown flag are named", async () => {
  const rows = await runCaptured(trainerCli, ["demo", "--rows", "5"]);
  expect(rows.code).toBe(1);
  expect(rows.err).toMatch(/--rows must be an integer between 10 and 9000, got "5"/);
  const unknown = await runCaptured(trainerCli, ["kaggle", "--laoin-prob", "0.5"]);
  expect(unknown.code).toBe(1);
  expect(unknown.err).toMatch(/unknown option '--laoin-prob'/);
});

test("a failing run names the file and never prints the token", async () => {
  const r = await runCaptured(trainerCli, [
    "kaggle",
    "--config",
    "no/such/app.yaml",
    "--hf-token",
    "hf_abcdefgh12345",
    "--dry-run",
  ]);
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/^error: .*no\/such\/app\.yaml/m);
  expect(`${r.out}${r.err}`).not.toContain("hf_abcdefgh12345");
});
