import { describe, expect, expectTypeOf, test } from "vitest";
import { batch, interleave, map, mix, pipe, prefetch, shuffle, take } from "../src/index";
import { collect, counting, tagged } from "./fakes";

/** Lets every pending promise callback run (the library has no timers; the test may). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("take", () => {
  test("yields the first n and closes the source without pulling more", async () => {
    const c = counting((i) => i);
    expect(await collect(pipe(c.source, take(5)))).toEqual([0, 1, 2, 3, 4]);
    expect(c.counters).toEqual({ opened: 1, pulled: 5, returned: 1 });
    expect(await collect(pipe([1, 2], take(5)))).toEqual([1, 2]);
    expect(await collect(pipe(c.source, take(0)))).toEqual([]);
    expect(() => take(-1)).toThrow("take: n must be an integer ≥ 0; got -1");
  });
});

describe("batch", () => {
  test("groups into arrays, keeping or dropping the short last one", async () => {
    expect(await collect(pipe([1, 2, 3, 4, 5], batch(2)))).toEqual([[1, 2], [3, 4], [5]]);
    expect(await collect(pipe([1, 2, 3, 4, 5], batch(2, { dropLast: true })))).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(() => batch(0)).toThrow("batch: size must be an integer ≥ 1; got 0");
  });

  test("reads no further than the batch it fills (mixer state after a batch matches the batch)", async () => {
    const m = mix([{ name: "a", weight: 1, source: tagged("a") }], { seed: 1, stopWhen: "never" });
    const it = pipe(m, batch(4))[Symbol.asyncIterator]();
    await it.next();
    expect(m.state().steps).toBe(4);
    await it.return?.();
  });
});

describe("shuffle", () => {
  test("is a deterministic permutation for a seed; different seeds differ; order really changes", async () => {
    const input = Array.from({ length: 200 }, (_, i) => i);
    const a = await collect(pipe(input, shuffle(16, 7)));
    const b = await collect(pipe(input, shuffle(16, 7)));
    const c = await collect(pipe(input, shuffle(16, 8)));
    expect(a).toEqual(b);
    expect([...a].sort((x, y) => x - y)).toEqual(input);
    expect(c).not.toEqual(a);
    expect(a.filter((x, i) => x === i).length).toBeLessThan(50);
    // Buffered: output i can only be one of the first i + 16 inputs.
    expect(a.every((x, i) => x <= i + 16)).toBe(true);
  });

  test("holds at most bufferSize items ahead and closes the source on break", async () => {
    const c = counting((i) => i);
    expect(await collect(pipe(c.source, shuffle(10, 1)), 3)).toHaveLength(3);
    expect(c.counters).toEqual({ opened: 1, pulled: 13, returned: 1 });
  });
});

describe("map", () => {
  test("keeps input order with concurrency, and never runs more than `concurrency` calls at once", async () => {
    let running = 0;
    let peak = 0;
    const results = await collect(
      pipe(
        Array.from({ length: 40 }, (_, i) => i),
        map(
          async (x: number) => {
            running++;
            peak = Math.max(peak, running);
            // Later items finish first: out-of-order completion must not reorder output.
            for (let k = 0; k < (40 - x) % 7; k++) await settle();
            running--;
            return x * 2;
          },
          { concurrency: 4 },
        ),
      ),
    );
    expect(results).toEqual(Array.from({ length: 40 }, (_, i) => i * 2));
    expect(peak).toBe(4);
  });

  test("an error from fn surfaces at its item and closes the source", async () => {
    const c = counting((i) => i);
    const out: number[] = [];
    await expect(
      (async () => {
        for await (const x of pipe(
          c.source,
          map(
            (x: number) => {
              if (x === 5) throw new Error("bad item 5");
              return x;
            },
            { concurrency: 3 },
          ),
        ))
          out.push(x);
      })(),
    ).rejects.toThrow("bad item 5");
    expect(out).toEqual([0, 1, 2, 3, 4]);
    expect(c.counters.returned).toBe(1);
    expect(() => map((x) => x, { concurrency: 0 })).toThrow("map: concurrency must be an integer ≥ 1; got 0");
  });
});

describe("prefetch", () => {
  test("reads ahead up to n items while the consumer is idle, never more", async () => {
    const c = counting((i) => i);
    const it = pipe(c.source, prefetch(5))[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe(0);
    for (let i = 0; i < 20; i++) await settle();
    // One item taken, five buffered: six pulled.
    expect(c.counters.pulled).toBe(6);
    expect((await it.next()).value).toBe(1);
    for (let i = 0; i < 20; i++) await settle();
    expect(c.counters.pulled).toBe(7);
    await it.return?.();
    expect(c.counters.returned).toBe(1);
  });

  test("delivers items in order, then the source's error, then nothing", async () => {
    async function* failing() {
      yield 1;
      yield 2;
      throw new Error("broken pipe");
    }
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const x of pipe(failing(), prefetch(4))) seen.push(x);
      })(),
    ).rejects.toThrow("broken pipe");
    expect(seen).toEqual([1, 2]);
    expect(await collect(pipe([1, 2, 3], prefetch(2)))).toEqual([1, 2, 3]);
  });
});

describe("interleave", () => {
  test("round robin, dropping sources as they end", async () => {
    expect(await collect(interleave([1, 2, 3], tagged("x", 1), ["a", "b"]))).toEqual([
      1,
      "x:0",
      "a",
      2,
      "b",
      3,
    ]);
  });

  test("closing the consumer closes every opened source", async () => {
    const a = counting((i) => i);
    const b = counting((i) => i);
    const unopened = counting((i) => i);
    expect(await collect(interleave(a.source, b.source, unopened.source), 2)).toEqual([0, 0]);
    expect([a.counters.returned, b.counters.returned, unopened.counters.opened]).toEqual([1, 1, 0]);
  });
});

describe("pipe and types", () => {
  test("composes stages left to right, closing everything on break", async () => {
    const c = counting((i) => i);
    const out = await collect(
      pipe(
        c.source,
        map((x: number) => x + 1),
        batch(3),
        take(2),
      ),
    );
    expect(out).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(c.counters.returned).toBe(1);
  });

  test("mix output is a union discriminated by source name", async () => {
    const m = mix(
      [
        { name: "nums", weight: 1, source: tagged("n", 2) },
        { name: "flags", weight: 1, source: () => [true, false] },
      ],
      { seed: 1, stopWhen: "all_exhausted" },
    );
    for await (const step of m) {
      if (step.source === "nums") expectTypeOf(step.item).toEqualTypeOf<string>();
      else expectTypeOf(step.item).toEqualTypeOf<boolean>();
    }
  });
});
