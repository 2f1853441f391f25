import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import {
  formatDifferences,
  inputIdentity,
  manifestStatus,
  moveAside,
  moveAsideAll,
  newManifest,
  OutputChangedError,
  writeManifest,
} from "../src/index.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-kit-manifest-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("run manifests", () => {
  test("missing → partial → complete → changed, with the differences named", () => {
    const file = path.join(dir, "a", ".run-manifest.json");
    const input = path.join(dir, "input.txt");
    fs.writeFileSync(input, "one");
    const params = { image_size: 64, shard_size: 10 };
    expect(manifestStatus(file, params, [inputIdentity(input)]).state).toBe("missing");

    const m = newManifest("test", params, [inputIdentity(input)]);
    writeManifest(file, m);
    expect(manifestStatus(file, params, [inputIdentity(input)]).state).toBe("partial");
    writeManifest(file, { ...m, complete: true });
    expect(manifestStatus(file, params, [inputIdentity(input)]).state).toBe("complete");

    const changed = manifestStatus(file, { image_size: 128, shard_size: 10 }, [inputIdentity(input)]);
    expect(changed.state).toBe("changed");
    expect(changed.detail).toBe("image_size 64 → 128");

    // a rewritten input (other size) is a change too, named by its path
    fs.writeFileSync(input, "one more");
    const diffs = manifestStatus(file, params, [inputIdentity(input)]).differences ?? [];
    expect(diffs.map((d) => d.key)).toEqual([`input ${input}`]);
    expect(formatDifferences(diffs)).toMatch(/3 bytes.* → 8 bytes/);
  });

  test("a setting is compared by value, not by where the writer put its key; arrays keep their order", () => {
    const file = path.join(dir, "order", ".run-manifest.json");
    const recorded = { model: { d_model: 128, layers: 4 }, data: { sources: ["a", "b"] } };
    writeManifest(file, { ...newManifest("test", recorded, []), complete: true });
    const reordered = { data: { sources: ["a", "b"] }, model: { layers: 4, d_model: 128 } };
    expect(manifestStatus(file, reordered, []).state).toBe("complete");
    const swapped = { model: { d_model: 128, layers: 4 }, data: { sources: ["b", "a"] } };
    expect(manifestStatus(file, swapped, []).differences?.map((d) => d.key)).toEqual(["data"]);
  });

  test("a folder's identity changes when a file is added, not when a dot-file is", () => {
    const folder = path.join(dir, "photos");
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, "a.jpg"), "x");
    const before = inputIdentity(folder);
    fs.writeFileSync(path.join(folder, ".lock"), "ours");
    expect(inputIdentity(folder)).toEqual(before);
    fs.writeFileSync(path.join(folder, "b.jpg"), "y");
    expect(inputIdentity(folder)).toMatchObject({ kind: "folder", files: 2, size: 2 });
    expect(inputIdentity(path.join(dir, "nope"))).toEqual({ path: path.join(dir, "nope"), kind: "missing" });
    expect(inputIdentity("https://example.com/x.parquet").kind).toBe("remote");
  });

  test("a folder with a run manifest is identified by it: same result → same identity, new result → changed", () => {
    const shards = path.join(dir, "shards");
    const m = { ...newManifest("test", { shard_size: 10 }, []), complete: true, result: { successes: 5 } };
    writeManifest(path.join(shards, ".download-manifest.json"), m);
    fs.writeFileSync(path.join(shards, "00000.tar"), "x");
    const first = inputIdentity(shards);
    expect(first.digest).toMatch(/^[0-9a-f]{16}$/);
    // rewritten by a retry that recovered nothing: other timestamps and mtimes, same identity
    fs.writeFileSync(path.join(shards, "00000.tar"), "xy");
    writeManifest(path.join(shards, ".download-manifest.json"), { ...m, started_at: "later" });
    expect(inputIdentity(shards)).toEqual(first);
    writeManifest(path.join(shards, ".download-manifest.json"), { ...m, result: { successes: 6 } });
    expect(inputIdentity(shards).digest).not.toBe(first.digest);
  });

  test("moveAsideAll moves a checkpoint's files with one shared n", () => {
    const ckpt = path.join(dir, "vq.pt");
    for (const f of [ckpt, `${ckpt}.json`, `${ckpt}.json.prev-1`]) fs.writeFileSync(f, f);
    expect(moveAsideAll([ckpt, `${ckpt}.json`, `${ckpt}.optim`])).toEqual([
      `${ckpt}.prev-2`,
      `${ckpt}.json.prev-2`,
    ]);
    expect(fs.readFileSync(`${ckpt}.prev-2`, "utf8")).toBe(ckpt);
  });

  test("an unreadable manifest is an error naming the file", () => {
    const file = path.join(dir, "bad.json");
    fs.writeFileSync(file, "{half");
    expect(() => manifestStatus(file, {}, [])).toThrow(`${file} is not a run manifest`);
  });

  test("moveAside keeps every earlier output: .prev-1, .prev-2", () => {
    const out = path.join(dir, "out");
    expect(moveAside(out)).toBeNull();
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, "x"), "first");
    expect(moveAside(out)).toBe(`${out}.prev-1`);
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, "x"), "second");
    expect(moveAside(out)).toBe(`${out}.prev-2`);
    expect(fs.readFileSync(path.join(`${out}.prev-1`, "x"), "utf8")).toBe("first");
    expect(fs.existsSync(out)).toBe(false);
  });

  test("OutputChangedError lists each difference by flag and the ways forward", () => {
    const err = new OutputChangedError("data/shards", [{ key: "image_size", before: 64, after: 128 }], {
      image_size: "--image-size",
    });
    expect(err.message).toContain("--image-size: 64 → 128");
    expect(err.message).toContain("--overwrite");
    expect(err.message).toContain("data/shards.prev-<n>");
  });
});
