import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { packageShapeProblems } from "@laion/test-servers";
import { expect, test } from "vitest";
import { DOWNLOAD_RUNTIME } from "../src/index.js";

test("package.json is fit to publish and src imports only declared dependencies", () => {
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  expect(packageShapeProblems(dir)).toEqual([]);
});

test("download-laion-images, run through its shebang, starts node with DOWNLOAD_RUNTIME's settings (heap growing)", () => {
  const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../bin/download-laion-images.js");
  // a module imported before the bin prints what node was started with, then stops the process
  const code = "console.log(JSON.stringify([process.env, process.execArgv])); process.exit(0)";
  const probe = `data:text/javascript,${encodeURIComponent(code)}`; // NODE_OPTIONS splits on spaces
  const out = execFileSync(bin, ["--version"], {
    encoding: "utf8",
    env: { ...process.env, NODE_OPTIONS: `--import=${probe}` },
  });
  const [env, execArgv] = JSON.parse(out.trim().split("\n")[0]!) as [NodeJS.ProcessEnv, string[]];
  // the one home of these values is DOWNLOAD_RUNTIME (the app's download stage takes them from there); the
  // bin sets its run-time V8 flags at start-up
  const { v8Flags, nodeFlags, env: wanted } = DOWNLOAD_RUNTIME;
  const flags = [...nodeFlags, ...v8Flags.map((f) => `--${f.name}=${f.value}`)];
  expect(flags).not.toEqual([]);
  expect(execArgv).toEqual(expect.arrayContaining(flags));
  for (const [name, value] of Object.entries(wanted)) expect(env[name], name).toBe(value);
});
