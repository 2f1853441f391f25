import path from "node:path";
import { fileURLToPath } from "node:url";
import { binStartup, packageShapeProblems } from "@laion/test-servers";
import { expect, test } from "vitest";
import { FETCH_RUNTIME } from "../src/index.js";

test("package.json is fit to publish and src imports only declared dependencies", () => {
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  expect(packageShapeProblems(dir)).toEqual([]);
});

test("the bin, run through its shebang, starts node with FETCH_RUNTIME's start-up settings (glibc's threshold, 8 MB semi-space)", () => {
  const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../bin/fetch-laion-subset.js");
  const { env, execArgv } = binStartup(bin);
  // the one home of these values is FETCH_RUNTIME (the app's process takes them from there)
  for (const [name, value] of Object.entries(FETCH_RUNTIME.env)) expect(env[name], name).toBe(value);
  expect(execArgv).toEqual(expect.arrayContaining([...FETCH_RUNTIME.nodeFlags]));
});
