import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { packageShapeProblems } from "@laion/test-servers";
import { expect, test } from "vitest";
import { FETCH_RUNTIME } from "../src/index.js";

test("package.json is fit to publish and src imports only declared dependencies", () => {
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  expect(packageShapeProblems(dir)).toEqual([]);
});

test("the bin, run through its shebang, starts node with FETCH_RUNTIME's start-up settings (glibc's threshold, 8 MB semi-space)", () => {
  const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../bin/fetch-laion-subset.js");
  // a module imported before the bin prints what node was started with, then stops the process
  const code = "console.log(JSON.stringify([process.env, process.execArgv])); process.exit(0)";
  const probe = `data:text/javascript,${encodeURIComponent(code)}`; // NODE_OPTIONS splits on spaces
  const out = execFileSync(bin, ["--version"], {
    encoding: "utf8",
    env: { ...process.env, NODE_OPTIONS: `--import=${probe}` },
  });
  const [env, execArgv] = JSON.parse(out.trim().split("\n")[0]!) as [NodeJS.ProcessEnv, string[]];
  // the one home of these values is FETCH_RUNTIME (the app's process takes them from there)
  for (const [name, value] of Object.entries(FETCH_RUNTIME.env)) expect(env[name], name).toBe(value);
  expect(execArgv).toEqual(expect.arrayContaining([...FETCH_RUNTIME.nodeFlags]));
});
