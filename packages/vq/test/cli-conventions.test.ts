// The conventions every @laion bin shares (cli-kit's runCommand): --version from package.json, --help
// with grouped options and required flags marked, and a missing required flag named in the error.
import { readFileSync } from "node:fs";
import { runCaptured } from "@laion/test-servers";
import { describe, expect, test } from "vitest";
import { encodeVqCodesCli } from "../src/encode-command.js";
import { trainVisualVq } from "../src/train-command.js";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const groupsOf = (help: string) => [...help.matchAll(/^(\w[^:\n]*):$/gm)].map((m) => m[1]);

describe("train-visual-vq", () => {
  test("--version prints the package version", async () => {
    expect(await runCaptured(trainVisualVq, ["--version"])).toEqual({
      out: `${version}\n`,
      err: "",
      code: 0,
    });
  });

  test("--help groups the options", async () => {
    const { out, code } = await runCaptured(trainVisualVq, ["--help"]);
    expect(code).toBe(0);
    expect(groupsOf(out)).toEqual([
      "Data (--captions and/or --laion-tars required)",
      "Model",
      "Training",
      "Output",
      "General",
    ]);
    expect(out).toMatch(/-q, --quiet[\s\S]*--verbose[\s\S]*-V, --version/);
  });

  test("no data flag: the error names the flags that give data", async () => {
    const r = await runCaptured(trainVisualVq, ["--max-steps", "2"]);
    expect(r).toMatchObject({ code: 1, out: "" });
    expect(r.err).toBe("error: no training data: give --captions (with --image-root) and/or --laion-tars\n");
  });
});

describe("encode-vq-codes", () => {
  test("--version prints the package version", async () => {
    expect(await runCaptured(encodeVqCodesCli, ["--version"])).toEqual({
      out: `${version}\n`,
      err: "",
      code: 0,
    });
  });

  test("--help groups the options and marks the three required flags", async () => {
    const { out, code } = await runCaptured(encodeVqCodesCli, ["--help"]);
    expect(code).toBe(0);
    expect(groupsOf(out)).toEqual(["Input and output", "Workers and device", "General"]);
    for (const flag of ["--vq-checkpoint <file>", "--input <shards...>", "--output <dir>"])
      expect(out).toMatch(new RegExp(`${flag.replace(/\./g, "\\.")}[^]*?\\(required\\)`));
    expect(out).not.toMatch(/--batch-size <n>[^\n]*\(required\)/);
  });

  test("a missing required flag is named", async () => {
    const r = await runCaptured(encodeVqCodesCli, ["--vq-checkpoint", "vq.pt", "--input", "x"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/required option '--output <dir>' not specified/);
  });
});
