import { createRequire } from "node:module";
import { expect, test } from "vitest";
import { INSTALL_HINTS, selectBackend } from "../src/backend.js";

const installed = (name: string) => {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
};

test("the chain logs one line: the chosen backend, why the others were skipped, how to install them", async () => {
  const lines: string[] = [];
  const { name } = await selectBackend({ log: (m) => lines.push(m) });
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^backend ${name} on `));
  expect(lines[0]).not.toMatch(/Cannot find|node_modules|\n/);
  // Each optional package this machine lacks is named with its install command.
  for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"] as const) {
    if (installed(pkg)) continue;
    expect(lines[0]).toContain(`${pkg.replace("@tensorflow/", "")}: not installed`);
    expect(lines[0]).toContain(INSTALL_HINTS[pkg.replace("@tensorflow/", "") as "tfjs-node"]);
  }
});

test("a named backend logs one line saying it was named", async () => {
  const lines: string[] = [];
  await selectBackend({ prefer: "cpu", log: (m) => lines.push(m) });
  expect(lines).toEqual([expect.stringMatching(/^backend cpu on .*; --backend cpu$/)]);
});
