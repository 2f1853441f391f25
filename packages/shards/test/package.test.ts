import path from "node:path";
import { fileURLToPath } from "node:url";
import { binStartup, packageShapeProblems } from "@laion/test-servers";
import { expect, test } from "vitest";
import { DOWNLOAD_RUNTIME } from "../src/index.js";

test("package.json is fit to publish and src imports only declared dependencies", () => {
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  expect(packageShapeProblems(dir)).toEqual([]);
});

test("download-laion-images, run through its shebang, starts node with DOWNLOAD_RUNTIME's settings (heap growing)", () => {
  const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../bin/download-laion-images.js");
  const { env, execArgv } = binStartup(bin);
  // the one home of these values is DOWNLOAD_RUNTIME (the app's download stage takes them from there); the
  // bin sets its run-time V8 flags at start-up
  const { v8Flags, nodeFlags, env: wanted } = DOWNLOAD_RUNTIME;
  const flags = [...nodeFlags, ...v8Flags.map((f) => `--${f.name}=${f.value}`)];
  expect(flags).not.toEqual([]);
  expect(execArgv).toEqual(expect.arrayContaining(flags));
  for (const [name, value] of Object.entries(wanted)) expect(env[name], name).toBe(value);
});
