// The conventions every @laion bin shares (cli-kit's runCommand): --version from package.json, --help
// with grouped options and required flags marked, and a missing required flag named in the error.
import { readFileSync } from "node:fs";
import { runCommand } from "@laion/cli-kit";
import { runCaptured } from "@laion/test-servers";
import { describe, expect, test } from "vitest";
import { downloadCommand } from "../src/download/command.js";
import { shardsCommand } from "../src/read/command.js";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const download = (...argv: string[]) => runCaptured((a, io) => runCommand(downloadCommand, a, io), argv);
const shards = (...argv: string[]) => runCaptured((a, io) => runCommand(shardsCommand, a, io), argv);

describe("download-laion-images", () => {
  test("--version prints the package version", async () => {
    expect(await download("--version")).toEqual({ out: `${version}\n`, err: "", code: 0 });
  });

  test("--help groups the options and marks --input and --output required", async () => {
    const { out, code } = await download("--help");
    expect(code).toBe(0);
    const groups = [...out.matchAll(/^(\w[\w ]*):$/gm)].map((m) => m[1]);
    expect(groups).toEqual(["Input", "Images", "Network", "Output", "General"]);
    expect(out).toMatch(/--input <paths\.\.\.>[\s\S]*?\(required\)/);
    expect(out).toMatch(/--output <dir>\s+output folder, or\s+s3:\/\/bucket\/prefix\s+\(required\)/);
    expect(out).not.toMatch(/--shard-size <n>[^\n]*\(required\)/);
    expect(out).toMatch(/-q, --quiet[\s\S]*--verbose[\s\S]*-V, --version/);
  });

  test("a missing required flag is named", async () => {
    const r = await download("--input", "urls.parquet");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/required option '--output <dir>' not specified/);
  });
});

describe("laion-shards", () => {
  test("--version prints the package version", async () => {
    expect(await shards("--version")).toEqual({ out: `${version}\n`, err: "", code: 0 });
  });

  test("--help lists the subcommands; a subcommand's help groups its options and shows the shared ones", async () => {
    expect((await shards("--help")).out).toMatch(/Commands:\n\s+ls \[options\] <urls\.\.\.>[\s\S]*stats/);
    const { out, code } = await shards("stats", "--help");
    expect(code).toBe(0);
    const groups = [...out.matchAll(/^(\w[\w ]*):$/gm)].map((m) => m[1]);
    expect(groups).toEqual(["Arguments", "Output", "Reading", "Limits and cache", "General"]);
    expect(out).toMatch(/-q, --quiet/);
  });

  test("missing shards are named", async () => {
    const r = await shards("ls");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/missing required argument 'urls'/);
  });
});
