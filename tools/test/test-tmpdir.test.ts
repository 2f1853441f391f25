import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test } from "vitest";
// @ts-expect-error: a plain .mjs vitest setup file without type declarations
import setup from "../scripts/test-tmpdir.mjs";

test("tests run with a temporary folder of their own, which vitest.shared.ts sets up", () => {
  expect(path.basename(os.tmpdir())).toMatch(/^laion-test-/);
});

test("the run's temporary folder and everything in it is removed when the run ends", () => {
  const outer = process.env.TMPDIR;
  const teardown = setup() as () => void;
  const runFolder = os.tmpdir();
  expect(runFolder).not.toBe(outer);
  fs.mkdirSync(path.join(fs.mkdtempSync(path.join(os.tmpdir(), "left-")), "deep"), { recursive: true });
  teardown();
  expect(fs.existsSync(runFolder)).toBe(false);
  expect(process.env.TMPDIR).toBe(outer);
});
