import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeFileAtomic, writeFileAtomicSync } from "../src/index.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "write-atomic-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const writers = {
  async: writeFileAtomic,
  sync: async (file: string, data: string | Uint8Array) => writeFileAtomicSync(file, data),
};

describe.each(Object.entries(writers))("writeFileAtomic (%s)", (_name, write) => {
  it("replaces the file and leaves no temp file, creating the folder", async () => {
    const file = path.join(dir, "a", "b", "out.bin");
    await write(file, "first");
    await write(file, new Uint8Array([1, 2, 3]));
    expect([...fs.readFileSync(file)]).toEqual([1, 2, 3]);
    expect(fs.readdirSync(path.dirname(file))).toEqual(["out.bin"]);
  });

  it("on a failed rename keeps what was there and removes its temp file", async () => {
    // a non-empty folder at the target: the rename fails after the temp file was written
    const target = path.join(dir, "taken");
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, "keep.txt"), "kept");
    await expect(write(target, "new")).rejects.toThrow();
    expect(fs.readdirSync(dir)).toEqual(["taken"]);
    expect(fs.readFileSync(path.join(target, "keep.txt"), "utf8")).toBe("kept");
  });
});
