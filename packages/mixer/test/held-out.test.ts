import { describe, expect, test } from "vitest";
import { hashString, heldOutSide, isHeldOut, seekable } from "../src/index";
import { collect } from "./fakes";

const keys = Array.from({ length: 20_000 }, (_, i) => String(i).padStart(9, "0"));

describe("the one held-out split", () => {
  test("holds out the fraction asked, within 4 binomial standard deviations", () => {
    for (const f of [0.01, 0.05, 0.1, 0.3]) {
      const held = keys.filter((k) => isHeldOut(k, f, "laion")).length;
      const sd = Math.sqrt(keys.length * f * (1 - f));
      expect(Math.abs(held - keys.length * f), `fraction ${f}`).toBeLessThan(4 * sd);
    }
    expect(keys.some((k) => isHeldOut(k, 0, "laion"))).toBe(false);
    expect(keys.every((k) => isHeldOut(k, 1, "laion"))).toBe(true);
  });

  test("a larger fraction holds out a superset: raising it moves no held-out key into training", () => {
    const small = keys.filter((k) => isHeldOut(k, 0.05, "local"));
    expect(small.every((k) => isHeldOut(k, 0.1, "local"))).toBe(true);
  });

  test("the source salts the hash: two sources split the same keys independently", () => {
    const a = new Set(keys.filter((k) => isHeldOut(k, 0.1, "local")));
    const both = keys.filter((k) => isHeldOut(k, 0.1, "laion") && a.has(k)).length;
    // independent: ~1 % of keys in both, not the 10 % one shared split would give
    expect(both / keys.length).toBeGreaterThan(0.005);
    expect(both / keys.length).toBeLessThan(0.02);
  });

  test("is trainer-2b's split of sessions 1–4 (hashString of source NUL key): its eval sets do not move", () => {
    for (const k of keys.slice(0, 2000))
      expect(isHeldOut(k, 0.05, "text")).toBe(hashString(`text\u0000${k}`) / 2 ** 32 < 0.05);
  });

  test("a fraction outside [0, 1] is an error naming it", () => {
    expect(() => isHeldOut("k", 5)).toThrow(/between 0 and 1, got 5/);
    expect(() => isHeldOut("k", Number.NaN)).toThrow(/got NaN/);
    expect(() => heldOutSide([], { keyOf: String, fraction: -0.1, side: "train" })).toThrow(/got -0.1/);
  });
});

describe("heldOutSide", () => {
  const items = keys.slice(0, 500).map((k) => ({ __key__: k }));
  const keyOf = (s: { __key__: string }) => s.__key__;

  test("the two sides partition the stream, in order", async () => {
    const train = await collect(heldOutSide(items, { keyOf, fraction: 0.2, source: "local", side: "train" }));
    const held = await collect(
      heldOutSide(items, { keyOf, fraction: 0.2, source: "local", side: "held-out" }),
    );
    expect(held.length).toBeGreaterThan(50);
    expect(held.every((s) => isHeldOut(s.__key__, 0.2, "local"))).toBe(true);
    expect(train.length + held.length).toBe(items.length);
    expect([...train, ...held].map(keyOf).sort()).toEqual(items.map(keyOf));
    expect(train.map(keyOf)).toEqual(items.map(keyOf).filter((k) => !isHeldOut(k, 0.2, "local")));
  });

  test("a Resumable reader stays Resumable: a restored side continues where the first stopped", async () => {
    const opts = { keyOf, fraction: 0.2, source: "local", side: "train" } as const;
    const whole = await collect(
      heldOutSide(
        seekable((o) => items.slice(o)),
        opts,
      ),
    );
    const first = heldOutSide(
      seekable((o) => items.slice(o)),
      opts,
    );
    const head = await collect(first, 100);
    const state = JSON.parse(JSON.stringify(first.state()));
    const second = heldOutSide(
      seekable((o) => items.slice(o)),
      opts,
    );
    second.restore(state);
    expect([...head, ...(await collect(second))]).toEqual(whole);
    expect("state" in heldOutSide(items, opts)).toBe(false);
  });
});
