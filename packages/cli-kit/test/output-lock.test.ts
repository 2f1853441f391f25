import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { acquireOutputLock, OutputBusyError } from "../src/index.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-kit-lock-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The pid of a process that has exited (a stale lock's holder). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(child.stdout.toString());
}

describe("output locks", () => {
  test("a second lock on a held output is refused, naming the holder; release frees it", () => {
    const file = path.join(dir, "out", ".lock");
    const lock = acquireOutputLock(file, { purpose: "first run" });
    const err = (() => {
      try {
        acquireOutputLock(file);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(OutputBusyError);
    expect((err as Error).message).toContain(`pid ${process.pid} on ${os.hostname()}`);
    expect((err as Error).message).toContain("(first run)");
    lock.release();
    expect(fs.existsSync(file)).toBe(false);
    acquireOutputLock(file).release();
  });

  test("a lock left by a dead process is taken over, with a message", () => {
    const file = path.join(dir, "stale", ".lock");
    fs.mkdirSync(path.dirname(file));
    const pid = deadPid();
    fs.writeFileSync(file, JSON.stringify({ pid, host: os.hostname(), started_at: "2026-01-01T00:00:00Z" }));
    const messages: string[] = [];
    const lock = acquireOutputLock(file, { onLog: (m) => messages.push(m) });
    expect(messages[0]).toContain(`stale lock ${file} of pid ${pid}`);
    expect(JSON.parse(fs.readFileSync(file, "utf8")).pid).toBe(process.pid);
    lock.release();
  });

  test("a lock held on another host is never taken over (its pid means nothing here)", () => {
    const file = path.join(dir, "remote", ".lock");
    fs.mkdirSync(path.dirname(file));
    fs.writeFileSync(file, JSON.stringify({ pid: deadPid(), host: "other-machine", started_at: "x" }));
    expect(() => acquireOutputLock(file)).toThrow(/in use by pid \d+ on other-machine/);
  });

  test("release leaves a lock that is no longer ours alone", () => {
    const file = path.join(dir, "swapped", ".lock");
    const lock = acquireOutputLock(file);
    fs.writeFileSync(file, JSON.stringify({ pid: 1, host: "someone-else", started_at: "x" }));
    lock.release();
    expect(fs.existsSync(file)).toBe(true);
  });
});
