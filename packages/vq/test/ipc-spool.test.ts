import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, expect, test } from "vitest";
import {
  closeSpool,
  openSpool,
  releaseSpooled,
  SPOOL_MIN_BYTES,
  spoolIn,
  spoolOut,
} from "../src/ipc-spool.js";

// The transport of large arrays to and from device processes (src/ipc-spool.ts), in one process.

const same = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  a.length === b.length && Array.prototype.every.call(a, (x: number, j: number) => x === b[j]);

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});
const root = () => {
  const r = mkdtempSync(path.join(tmpdir(), "spool-test-"));
  roots.push(r);
  return r;
};

test("large typed arrays, at any depth, cross as files read back once; small ones and other values inline", () => {
  const dir = openSpool(root());
  const weights = new Float32Array(SPOOL_MIN_BYTES / 4).map((_, j) => j * 0.5);
  const codes = new Int32Array(SPOOL_MIN_BYTES / 4).map((_, j) => -j);
  const small = new Float32Array([1, 2, 3]);
  const message = {
    id: 7,
    shared: { weights },
    task: { micro: [{ batch: { inputs: codes }, scale: 0.5 }] },
    small,
  };
  const out = spoolOut(message, dir) as { shared: { weights: unknown }; small: unknown };
  // on the wire: where each large array is, not its bytes
  expect(out.shared.weights).not.toBeInstanceOf(Float32Array);
  expect(JSON.stringify(out).length).toBeLessThan(2000);
  expect(out.small).toBe(small);
  expect(readdirSync(dir)).toHaveLength(2);
  const back = spoolIn(structuredClone(out)) as typeof message;
  expect(back.id).toBe(7);
  expect(back.shared.weights).toBeInstanceOf(Float32Array);
  expect(same(back.shared.weights, weights)).toBe(true);
  expect(back.task.micro[0]!.batch.inputs).toBeInstanceOf(Int32Array);
  expect(same(back.task.micro[0]!.batch.inputs, codes)).toBe(true);
  expect(back.task.micro[0]!.scale).toBe(0.5);
  expect(back.small).toEqual(small);
  expect(readdirSync(dir)).toEqual([]);
  closeSpool(dir);
  expect(existsSync(dir)).toBe(false);
});

test("an array that cannot be written (the folder gone or full) stays inline", () => {
  const dir = path.join(root(), "missing");
  const weights = new Float32Array(SPOOL_MIN_BYTES / 4);
  expect((spoolOut({ weights }, dir) as { weights: unknown }).weights).toBe(weights);
});

test("a new spool removes the folders of processes that have died, and keeps the living's", () => {
  const r = root();
  const dead = spawnSync(process.execPath, [
    "-e",
    "process.stdout.write(String(process.pid))",
  ]).stdout.toString();
  mkdirSync(path.join(r, `laion-ipc-${dead}-abc`));
  mkdirSync(path.join(r, `laion-ipc-${process.ppid}-def`));
  mkdirSync(path.join(r, "other"));
  const dir = openSpool(r);
  expect(readdirSync(r).sort()).toEqual(
    [path.basename(dir), `laion-ipc-${process.ppid}-def`, "other"].sort(),
  );
});

test("memory handed back is read into by the next array of its size; memory it did not deliver is not taken", () => {
  const dir = openSpool(root());
  // a size of this test's own: the memory handed back is kept per process, by size
  const a = new Float32Array(SPOOL_MIN_BYTES / 4 + 3).fill(1);
  const first = spoolIn(spoolOut({ a }, dir)) as { a: Float32Array };
  releaseSpooled(new Float32Array(a.length)); // not delivered by spoolIn: ignored
  releaseSpooled(first.a);
  const second = spoolIn(spoolOut({ a: a.fill(2) }, dir)) as { a: Float32Array };
  expect(second.a.buffer).toBe(first.a.buffer);
  expect(second.a[a.length - 1]).toBe(2);
  // not handed back: the next one gets memory of its own
  const third = spoolIn(spoolOut({ a }, dir)) as { a: Float32Array };
  expect(third.a.buffer).not.toBe(second.a.buffer);
});
