import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { syncFolder, writeFileAtomic, writeFileAtomicSync } from "../src/index.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "write-atomic-"));
});
afterEach(() => {
  vi.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

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

// The real calls are observed (not replaced): every fsync by the name of what it syncs, every rename.
function recordSyncsAndRenames(): string[] {
  const events: string[] = [];
  const name = (p: fs.PathLike) => path.basename(String(p)).replace(/\.tmp-\d+-\d+$/, ".tmp");
  const openHandle = fs.promises.open;
  vi.spyOn(fs.promises, "open").mockImplementation(async (file, ...rest) => {
    const handle = await openHandle(file, ...rest);
    const sync = handle.sync.bind(handle);
    handle.sync = async () => {
      await sync();
      events.push(`sync ${name(file)}`);
    };
    return handle;
  });
  const rename = fs.promises.rename;
  vi.spyOn(fs.promises, "rename").mockImplementation(async (from, to) => {
    await rename(from, to);
    events.push(`rename ${name(from)} -> ${name(to)}`);
  });
  const fdNames = new Map<number, string>();
  const openSync = fs.openSync;
  vi.spyOn(fs, "openSync").mockImplementation((file, ...rest) => {
    const fd = openSync(file, ...rest);
    fdNames.set(fd, name(file));
    return fd;
  });
  const fsyncSync = fs.fsyncSync;
  vi.spyOn(fs, "fsyncSync").mockImplementation((fd) => {
    fsyncSync(fd);
    events.push(`sync ${fdNames.get(fd)}`);
  });
  const renameSync = fs.renameSync;
  vi.spyOn(fs, "renameSync").mockImplementation((from, to) => {
    renameSync(from, to);
    events.push(`rename ${name(from)} -> ${name(to)}`);
  });
  return events;
}

describe.each(Object.entries(writers))("writeFileAtomic (%s) is durable", (_name, write) => {
  it("syncs the data, renames it in, then syncs the folder, so a power cut after it returns keeps the file", async () => {
    const folder = path.join(dir, "state");
    const events = recordSyncsAndRenames();
    await write(path.join(folder, "run.json"), "{}");
    expect(events).toEqual(["sync run.json.tmp", "rename run.json.tmp -> run.json", "sync state"]);
  });
});

it("syncFolder syncs a real folder and refuses a missing one by name", async () => {
  const events = recordSyncsAndRenames();
  await syncFolder(dir);
  expect(events).toEqual([`sync ${path.basename(dir)}`]);
  await expect(syncFolder(path.join(dir, "missing"))).rejects.toThrow(/ENOENT.*missing/);
});
