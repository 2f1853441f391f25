import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";

// .ci/run's end-of-output summary (tools/scripts/ci-failures.mjs), fed real vitest output: a nested
// vitest run over failing tests, with each line prefixed as `nx run-many --outputStyle=stream` does.
const root = path.resolve(import.meta.dirname, "../..");
const script = path.join(root, "tools/scripts/ci-failures.mjs");
const vitest = path.join(root, "node_modules/vitest/vitest.mjs");
const ANSI = /\u001b\[/;

const FAILING = {
  "test/a.test.ts": `import { describe, expect, test } from "vitest";
describe("group", () => {
  test("passes", () => {});
  test("fails on equality", () => { expect({ a: 1 }).toEqual({ a: 2 }); });
  test("times out", async () => { await new Promise((r) => setTimeout(r, 400)); }, 50);
  test("long diff", () => { expect([...Array(120).keys()]).toEqual([...Array(120).keys()].map((i) => -i)); });
});
`,
  "test/b.test.ts": `throw new Error("module-level boom");\n`,
};

let dir: string;
let summary: string;

const summarize = (file: string, step = "test") => {
  const r = spawnSync(process.execPath, [script, file, step], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
};

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ci-failures-"));
  for (const [name, text] of Object.entries(FAILING)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  fs.writeFileSync(path.join(dir, "package.json"), '{ "type": "module" }\n');
  // the outer run's VITEST* variables would make the inner vitest think it is a worker
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VITEST")));
  const run = spawnSync(process.execPath, [vitest, "run", "--root", dir], {
    encoding: "utf8",
    env: { ...env, FORCE_COLOR: "1", CI: "true" },
  });
  expect(run.status).toBe(1);
  const out = `${run.stdout}${run.stderr}`;
  expect(out).toMatch(ANSI);
  const prefixed = out
    .split("\n")
    .map((l) => `\u001b[1m\u001b[35m@laion/demo:\u001b[39m\u001b[22m ${l}`)
    .join("\n");
  const ok = "\u001b[1m\u001b[36m@laion/other:\u001b[39m\u001b[22m  Tests  3 passed (3)";
  const footer =
    "\n NX   Running target test for 2 projects failed\n\nFailed tasks:\n\n- @laion/demo:test\n\n";
  const log = path.join(dir, "test.log");
  fs.writeFileSync(log, `${ok}\n${prefixed}\n${footer}  Run duration: 9s\n`);
  summary = summarize(log);
}, 60_000);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("ci-failures: the summary .ci/run prints when a step fails", () => {
  test("names each failing test with its file and error, without colour codes", () => {
    const out = summary;
    expect(out).not.toMatch(ANSI);
    expect(out.split("\n")[0]).toBe("== failures of test: @laion/demo");
    expect(out).toContain("FAIL  test/a.test.ts > group > fails on equality");
    expect(out).toContain("AssertionError: expected { a: 1 } to deeply equal { a: 2 }");
    expect(out).toContain("FAIL  test/a.test.ts > group > times out");
    expect(out).toContain("Error: Test timed out in 50ms.");
    expect(out).toContain("FAIL  test/b.test.ts");
    expect(out).toContain("Error: module-level boom");
    expect(out).toMatch(/× times out \d+ms/); // the listing's line, with the duration
    expect(out).toMatch(/Tests {2}3 failed \| 1 passed \(4\)/);
    expect(out).not.toContain("@laion/other"); // a project that passed is left out
  });

  test("each failure block is capped at 40 lines, saying how many were left out", () => {
    const out = summary.split("\n");
    const at = out.findIndex((l) => l.includes("> long diff"));
    const rest = out.slice(at);
    const end = rest.findIndex((l) => /^… \d+ more lines$/.test(l));
    expect(end).toBe(40);
    expect(out.filter((l) => l.startsWith(" FAIL "))).toHaveLength(4);
  });

  test("a failed task without vitest sections (lint, types, a crash) ends with its last lines", () => {
    const lint = path.join(dir, "lint.log");
    const lines = Array.from({ length: 60 }, (_, i) => `@laion/demo: src/a.ts:${i + 1}:1 lint/style ×`);
    fs.writeFileSync(lint, `${lines.join("\n")}\n\nFailed tasks:\n\n- @laion/demo:lint\n`);
    const out = summarize(lint, "lint").trim().split("\n");
    expect(out.slice(0, 2)).toEqual(["== failures of lint: @laion/demo", "-- @laion/demo"]);
    expect(out.slice(2)).toEqual(lines.slice(-40).map((l) => l.slice("@laion/demo: ".length)));
  });

  test("a step that is not nx ends with the last lines of its whole output", () => {
    const plain = path.join(dir, "consumer.log");
    fs.writeFileSync(plain, "packing…\nnpm error code E404\nnpm error 404 Not Found\n");
    expect(summarize(plain, "consumer").trim().split("\n")).toEqual([
      "== failures of consumer",
      "-- consumer",
      "packing…",
      "npm error code E404",
      "npm error 404 Not Found",
    ]);
  });
});
