// The conventions every @laion bin shares (cli-kit's runCommand): --version from package.json, --help
// with grouped options and required flags marked, and a missing required flag named in the error.
import { readFileSync } from "node:fs";
import { runCaptured } from "@laion/test-servers";
import { describe, expect, test } from "vitest";
import { generateCli } from "../src/generate-command.js";
import { trainTokenizerCli } from "../src/tokenizer-command.js";
import { trainMultimodalCli } from "../src/train-command.js";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const groupsOf = (help: string) => [...help.matchAll(/^(\w[^:\n]*):$/gm)].map((m) => m[1]);

const bins = [
  {
    name: "train-multimodal",
    main: trainMultimodalCli,
    groups: ["Config (flags override the YAML)", "Data", "Device", "Run", "General"],
    required: [],
  },
  {
    name: "train-tokenizer",
    main: trainTokenizerCli,
    groups: ["Text", "Vocabulary", "Output", "General"],
    required: ["--out <file>"],
  },
  {
    name: "generate-multimodal",
    main: generateCli,
    groups: ["Model", "Request (exactly one)", "Sampling", "General"],
    required: ["--checkpoint <dir>"],
  },
];

describe.each(bins)("$name", ({ main, groups, required }) => {
  test("--version prints the package version", async () => {
    expect(await runCaptured(main, ["--version"])).toEqual({ out: `${version}\n`, err: "", code: 0 });
  });

  test("--help groups the options and marks the required ones", async () => {
    const { out, code } = await runCaptured(main, ["--help"]);
    expect(code).toBe(0);
    expect(groupsOf(out)).toEqual(groups);
    expect(out.match(/\(required\)/g) ?? []).toHaveLength(required.length);
    for (const flag of required) expect(out).toMatch(new RegExp(`${flag}[^]*?\\(required\\)`));
    expect(out).toMatch(/-q, --quiet[\s\S]*--verbose[\s\S]*-V, --version/);
  });
});

test("a missing required flag is named", async () => {
  const tokenizer = await runCaptured(trainTokenizerCli, ["--corpus", "corpus.txt"]);
  expect(tokenizer).toMatchObject({ code: 1, out: "" });
  expect(tokenizer.err).toMatch(/required option '--out <file>' not specified/);
  const generate = await runCaptured(generateCli, ["--prompt", "hello"]);
  expect(generate.err).toMatch(/required option '--checkpoint <dir>' not specified/);
});

test("flag combinations the parser cannot check are named too", async () => {
  const noText = await runCaptured(trainTokenizerCli, ["--out", "tok.json"]);
  expect(noText).toEqual({
    out: "",
    err: "error: no text to train on: give --corpus and/or --captions\n",
    code: 1,
  });
  const twoRequests = await runCaptured(generateCli, [
    "--checkpoint",
    "run",
    "--prompt",
    "a",
    "--image",
    "b.png",
  ]);
  expect(twoRequests.err).toBe("error: give exactly one of --prompt, --caption (with --out) or --image\n");
  // every backend of vq's chain is a choice (webgpu was missing): the parse passes and the request check speaks
  const onWebgpu = await runCaptured(generateCli, ["--checkpoint", "run", "--backend", "webgpu"]);
  expect(onWebgpu.err).toBe("error: give exactly one of --prompt, --caption (with --out) or --image\n");
  const guidedText = await runCaptured(generateCli, [
    "--checkpoint",
    "run",
    "--prompt",
    "a",
    "--guidance",
    "2",
  ]);
  expect(guidedText.err).toBe("error: --guidance applies to --caption only (caption → image)\n");
  const badGuidance = await runCaptured(generateCli, [
    "--checkpoint",
    "run",
    "--caption",
    "a",
    "--guidance",
    "-1",
  ]);
  expect(badGuidance.err).toMatch(/--guidance must be a number >= 0, got "-1"/);
  const badProb = await runCaptured(trainMultimodalCli, ["--laion-prob", "2", "--dry-run"]);
  expect(badProb.code).toBe(1);
  expect(badProb.err).toMatch(/--laion-prob must be a number between 0 and 1, got "2"/);
});
