import { Writable } from "node:stream";
import { describe, expect, test } from "vitest";
import { createProgress } from "../src/index.js";

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  }) as Writable & { isTTY?: boolean };
  stream.isTTY = isTTY;
  return { stream, text: () => chunks.join("") };
}

describe("createProgress", () => {
  test("writes throttled JSON lines when not a TTY, with count, rate and fields", () => {
    let t = 0;
    const out = sink(false);
    const p = createProgress({
      label: "rows",
      total: 10,
      stream: out.stream,
      intervalMs: 1000,
      now: () => t,
    });
    t = 500;
    p.tick(1); // first tick emits (nothing emitted yet)
    t = 700;
    p.tick(1); // throttled
    t = 2000;
    p.tick(3, { kept: 4 });
    p.done({ kept: 5 });
    const lines = out
      .text()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.event)).toEqual(["progress", "progress", "done"]);
    expect(lines[1]).toMatchObject({ label: "rows", count: 5, total: 10, kept: 4, rate: 2.5 });
    expect(lines[2]).toMatchObject({ event: "done", count: 5, kept: 5 });
    expect(p.count).toBe(5);
  });

  test("log lines stay JSON when not a TTY", () => {
    const out = sink(false);
    const p = createProgress({ label: "images", stream: out.stream });
    p.log("shard 00001 done");
    expect(JSON.parse(out.text())).toEqual({ event: "log", label: "images", message: "shard 00001 done" });
  });

  test("draws a bar on a TTY and ends with a readable summary", () => {
    const out = sink(true);
    const p = createProgress({ label: "images", total: 4, stream: out.stream, unit: "img" });
    p.tick(4, { ok: "100%" });
    p.done({ success: "100%" });
    expect(out.text()).toContain("images: 4 done in");
    expect(out.text()).toContain("success=100%");
    expect(out.text()).not.toContain('"event"');
  });
});
