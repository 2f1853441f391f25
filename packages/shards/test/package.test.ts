import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { packageShapeProblems } from "@laion/test-servers";
import { expect, test } from "vitest";

test("package.json is fit to publish and src imports only declared dependencies", () => {
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  expect(packageShapeProblems(dir)).toEqual([]);
});

test("download-laion-images, run through its shebang, starts node with its heap-growing setting", () => {
  const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../bin/download-laion-images.js");
  // a module imported before the bin prints what node was started with, then stops the process
  const code = "console.log(JSON.stringify(process.execArgv)); process.exit(0)";
  const probe = `data:text/javascript,${encodeURIComponent(code)}`; // NODE_OPTIONS splits on spaces
  const out = execFileSync(bin, ["--version"], {
    encoding: "utf8",
    env: { ...process.env, NODE_OPTIONS: `--import=${probe}` },
  });
  expect(JSON.parse(out.trim().split("\n")[0]!)).toContain("--heap-growing-percent=300");
});
