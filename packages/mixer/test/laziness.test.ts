import { describe, expect, test } from "vitest";
import { laionMixture, mix } from "../src/index";
import { collect, counting, tagged } from "./fakes";

describe("laziness: only the chosen source is pulled", () => {
  test("each step pulls exactly one item from the source it names; a zero-weight source is never opened", async () => {
    const a = counting((i) => `a${i}`);
    const b = counting((i) => `b${i}`);
    const zero = counting((i) => `z${i}`);
    const stream = mix(
      [
        { name: "a", weight: 1, source: a.source },
        { name: "b", weight: 3, source: b.source },
        { name: "zero", weight: 0, source: zero.source },
      ],
      { seed: 1, stopWhen: "never" },
    );
    expect([a.counters.opened, b.counters.opened]).toEqual([0, 0]); // nothing happens before iteration
    const out = await collect(stream, 1000);
    const fromA = out.filter((x) => x.source === "a").length;
    expect(a.counters.pulled).toBe(fromA);
    expect(b.counters.pulled).toBe(1000 - fromA);
    expect(zero.counters).toEqual({ opened: 0, pulled: 0, returned: 0 });
  });

  test("an endless LAION stream is fine; p = 1 never opens text or local, laion null with p = 0 is allowed", async () => {
    const laion = counting((i) => i);
    const text = counting((i) => `t${i}`);
    const local = counting((i) => `l${i}`);
    const all = await collect(
      laionMixture(
        { laion: laion.source, text: text.source, local: local.source },
        { laionProb: 1, textOnlyProb: 0.3, seed: 2, stopWhen: "never" },
      ),
      50,
    );
    expect(all.every((x) => x.source === "laion")).toBe(true);
    expect(laion.counters.pulled).toBe(50);
    expect(text.counters.opened + local.counters.opened).toBe(0);

    const noLaion = await collect(
      laionMixture(
        { laion: null, text: counting((i) => i).source, local: counting((i) => i).source },
        { laionProb: 0, textOnlyProb: 0.5, seed: 2, stopWhen: "never" },
      ),
      50,
    );
    expect(noLaion.some((x) => x.source === "laion")).toBe(false);
    expect(new Set(noLaion.map((x) => x.source))).toEqual(new Set(["text", "local"]));
  });

  test("a factory is called only when its source is first chosen", async () => {
    let calls = 0;
    const stream = mix(
      [
        { name: "a", weight: 1, source: [1, 2, 3] },
        {
          name: "b",
          weight: 1,
          source: () => {
            calls++;
            return [10, 20, 30];
          },
        },
      ],
      { seed: 4, stopWhen: "all_exhausted" },
    );
    expect(calls).toBe(0);
    const out = await collect(stream);
    expect(calls).toBe(1);
    expect(out).toHaveLength(6);
  });
});

describe("cleanup: closing the consumer closes the sources", () => {
  test("break closes every opened source, including those inside a nested mixture", async () => {
    const laion = counting((i) => i);
    const text = counting((i) => i);
    const local = counting((i) => i);
    const stream = laionMixture(
      { laion: laion.source, text: text.source, local: local.source },
      { laionProb: 0.5, textOnlyProb: 0.5, seed: 3, stopWhen: "never" },
    );
    let n = 0;
    for await (const _ of stream) if (++n === 200) break;
    for (const c of [laion, text, local]) expect(c.counters).toMatchObject({ opened: 1, returned: 1 });
  });

  test("a source that throws: the error reaches the consumer and the other sources are closed", async () => {
    const healthy = counting((i) => i);
    async function* failing() {
      for (let i = 0; i < 10; i++) yield -i;
      throw new Error("disk on fire");
    }
    const stream = mix(
      [
        { name: "ok", weight: 1, source: healthy.source },
        { name: "bad", weight: 1, source: failing() },
      ],
      { seed: 5, stopWhen: "never" },
    );
    await expect(collect(stream)).rejects.toThrow("disk on fire");
    expect(healthy.counters).toMatchObject({ opened: 1, returned: 1 });
  });

  test("the mixture ending by itself (first_exhausted) closes the sources still open", async () => {
    const endless = counting((i) => i);
    const short = counting((i) => i, 3);
    const out = await collect(
      mix(
        [
          { name: "endless", weight: 1, source: endless.source },
          { name: "short", weight: 1, source: short.source },
        ],
        { seed: 6, stopWhen: "first_exhausted" },
      ),
    );
    expect(out.filter((x) => x.source === "short")).toHaveLength(3);
    expect(endless.counters.returned).toBe(1);
  });

  test("a mixer is single-use", async () => {
    const stream = mix([{ name: "a", weight: 1, source: [1] }], { seed: 1, stopWhen: "all_exhausted" });
    await collect(stream);
    expect(() => stream[Symbol.asyncIterator]()).toThrow("can be iterated only once");
  });
});

test("next() calls issued without waiting are served one at a time, in order", async () => {
  const build = () =>
    mix(
      [
        { name: "a", weight: 1, source: tagged("a") },
        { name: "b", weight: 2, source: tagged("b", 5) },
      ],
      { seed: 12, stopWhen: "never" },
    );
  const sequential = await collect(build(), 12);
  const it = build()[Symbol.asyncIterator]();
  const results = await Promise.all(Array.from({ length: 12 }, () => it.next()));
  expect(results.map((r) => r.value)).toEqual(sequential);
  const [, closed] = await Promise.all([it.next(), it.return?.(), it.next()]);
  expect(closed).toEqual({ done: true, value: undefined });
});
