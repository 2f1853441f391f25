import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { isDiskFull } from "../src/fs-errors.js";
import { checkFlagPath, describeFsError } from "../src/index.js";

/** The real error Node raises for `fn`, so the codes are not made up. */
function errorOf(fn: () => void): NodeJS.ErrnoException {
  try {
    fn();
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
  throw new Error("expected an error");
}

describe("describeFsError names the path, the flag and the cause", () => {
  test("a full disk (a write to /dev/full fails with ENOSPC, as a full disk does)", () => {
    const error = errorOf(() => fs.writeFileSync("/dev/full", "x"));
    expect(isDiskFull(error)).toBe(true);
    expect(describeFsError(error, { action: "writing", file: "data/laion/webdataset/00003.tar" })).toBe(
      "disk full writing 00003.tar in data/laion/webdataset (ENOSPC)",
    );
  });

  test("a folder given where a file is written, and a file where a folder is needed", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-kit-fs-"));
    try {
      const isDir = errorOf(() => fs.writeFileSync(dir, "x"));
      expect(describeFsError(isDir, { action: "writing", file: dir, flag: "--out" })).toBe(
        `--out ${dir} is a folder; give a file path (EISDIR)`,
      );
      const file = path.join(dir, "f");
      fs.writeFileSync(file, "");
      const notDir = errorOf(() => fs.writeFileSync(path.join(file, "x"), ""));
      expect(describeFsError(notDir, { action: "writing", file: `${file}/x`, flag: "--output-dir" })).toBe(
        `--output-dir ${file}/x: a parent of it is a file, not a folder (ENOTDIR)`,
      );
      expect(isDiskFull(notDir)).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("checkFlagPath names the flag before any work starts", () => {
  test("a folder where a file goes, a file where a folder goes, a missing input, a file as a parent", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-kit-paths-"));
    try {
      const file = path.join(dir, "f.pt");
      fs.writeFileSync(file, "");
      expect(() => checkFlagPath(dir, { flag: "--out", kind: "file" })).toThrow(
        `--out ${dir} is a folder; give a file path (EISDIR)`,
      );
      expect(() => checkFlagPath(file, { flag: "--output-dir", kind: "folder" })).toThrow(
        `--output-dir ${file} exists and is a file; give a folder (EEXIST)`,
      );
      expect(() =>
        checkFlagPath(path.join(dir, "none.pt"), { flag: "--vq-checkpoint", kind: "file", mustExist: true }),
      ).toThrow(`--vq-checkpoint ${dir}/none.pt: no such file (ENOENT)`);
      expect(() =>
        checkFlagPath(path.join(file, "sub", "x"), { flag: "--output-dir", kind: "folder" }),
      ).toThrow(/--output-dir .*f\.pt\/sub\/x: .*(not a folder)/);
      expect(() =>
        checkFlagPath(path.join(dir, "new", "x.pt"), { flag: "--out", kind: "file" }),
      ).not.toThrow();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
