import { describe, expect, test } from "vitest";
import { createRng, Random } from "../src/index";

describe("Random: the seeded wrapper vq and trainer-2b share", () => {
  test("its floats are the generator's, and a state continues the same sequence", () => {
    const a = new Random(42);
    const raw = createRng(42);
    expect([a.next(), a.next()]).toEqual([raw.nextFloat(), raw.nextFloat()]);
    const b = new Random(a.state());
    const c = Random.fromState(a.getState());
    const next = [a.next(), a.int(1000), a.uniform(-2, 3)];
    expect([b.next(), b.int(1000), b.uniform(-2, 3)]).toEqual(next);
    expect([c.next(), c.int(1000), c.uniform(-2, 3)]).toEqual(next);
  });

  test("int stays in [0, n) and uniform in [lo, hi)", () => {
    const r = new Random(3);
    for (let i = 0; i < 2000; i++) {
      const k = r.int(7);
      expect(Number.isInteger(k) && k >= 0 && k < 7).toBe(true);
      const u = r.uniform(-1, 1);
      expect(u >= -1 && u < 1).toBe(true);
    }
    expect(r.int(1)).toBe(0);
  });

  test("normal() and normals() are Box–Muller over the stream (the values earlier runs drew)", () => {
    const raw = createRng(9);
    const one = Math.sqrt(-2 * Math.log(1 - raw.nextFloat())) * Math.cos(2 * Math.PI * raw.nextFloat());
    expect(new Random(9).normal()).toBe(one);

    const pairs = createRng(11);
    const u = Math.max(pairs.nextFloat(), 1e-12);
    const v = pairs.nextFloat();
    const r = Math.sqrt(-2 * Math.log(u)) * 0.5;
    const got = new Random(11).normals(3, 0.5);
    expect(got[0]).toBe(Math.fround(r * Math.cos(2 * Math.PI * v)));
    expect(got[1]).toBe(Math.fround(r * Math.sin(2 * Math.PI * v)));
    expect(got.length).toBe(3);
  });

  test("normals have mean ≈ 0 and standard deviation ≈ std", () => {
    const x = new Random(5).normals(20000, 2);
    const mean = x.reduce((s, v) => s + v, 0) / x.length;
    const sd = Math.sqrt(x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length);
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(sd - 2)).toBeLessThan(0.05);
  });

  test("fork gives an independent stream and does not advance the parent", () => {
    const parent = new Random(1);
    const before = parent.state();
    const f1 = parent.fork(1);
    const f2 = parent.fork(2);
    expect(parent.state()).toEqual(before);
    expect(f1.next()).not.toBe(f2.next());
    expect(parent.fork(1).next()).toBe(new Random(1).fork(1).next());
  });
});
