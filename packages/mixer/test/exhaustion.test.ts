import { describe, expect, test } from "vitest";
import { laionMixture, type Mixed, mix, type StopWhen } from "../src/index";
import { collect, counting, tagged } from "./fakes";
import { chiSquareTest } from "./stats";

const itemsOf = (out: Mixed[], source: string) => out.filter((x) => x.source === source).map((x) => x.item);

function twoFinite(stopWhen: StopWhen, onExhausted: "drop" | "restart" = "drop") {
  return mix(
    [
      { name: "a", weight: 1, source: ({ pass }) => tagged("a", 3, pass) },
      { name: "b", weight: 1, source: ({ pass }) => tagged("b", 5, pass) },
    ],
    { seed: 9, stopWhen, onExhausted },
  );
}

describe("exhausted sources under each stop rule", () => {
  test("first_exhausted: ends at the first end of any source; every item before it is in order", async () => {
    const m = twoFinite("first_exhausted");
    const out = await collect(m);
    const a = itemsOf(out, "a");
    const b = itemsOf(out, "b");
    // Whichever ended first gave all its items; the other gave a prefix.
    expect(a.length === 3 || b.length === 5).toBe(true);
    expect(a).toEqual(["a:0", "a:1", "a:2"].slice(0, a.length));
    expect(b).toEqual(["b:0", "b:1", "b:2", "b:3", "b:4"].slice(0, b.length));
    const state = m.state();
    expect(state.ended).toBe(true);
    expect(Object.values(state.sources).filter((s) => s.exhausted)).toHaveLength(1);
  });

  test("all_exhausted + drop, and never + drop: every item of every source exactly once, then the end", async () => {
    for (const stopWhen of ["all_exhausted", "never"] as const) {
      const out = await collect(twoFinite(stopWhen));
      expect(itemsOf(out, "a")).toEqual(["a:0", "a:1", "a:2"]);
      expect(itemsOf(out, "b")).toEqual(["b:0", "b:1", "b:2", "b:3", "b:4"]);
    }
  });

  test("all_exhausted + restart: the short source restarts until the long one has ended once", async () => {
    const m = twoFinite("all_exhausted", "restart");
    const out = await collect(m);
    const state = m.state();
    expect(state.ended).toBe(true);
    expect(state.sources.a!.exhausted && state.sources.b!.exhausted).toBe(true);
    // The mixture ends the moment the last source reaches its first end: that one gave exactly one
    // pass, the other restarted (its passes in order).
    const last = state.sources.a!.pass === 0 ? "a" : "b";
    const other = last === "a" ? "b" : "a";
    expect(state.sources[last]!.pass).toBe(0);
    expect(state.sources[other]!.pass).toBeGreaterThan(0);
    expect(itemsOf(out, last)).toHaveLength(last === "a" ? 3 : 5);
    const passLength = other === "a" ? 3 : 5;
    const expectedOther = itemsOf(out, other).map((_, i) => {
      const pass = Math.floor(i / passLength);
      return pass === 0 ? `${other}:${i % passLength}` : `${other}@${pass}:${i % passLength}`;
    });
    expect(itemsOf(out, other)).toEqual(expectedOther);
  });

  test("never + restart: an endless stream of passes, each pass in order", async () => {
    const out = await collect(twoFinite("never", "restart"), 1000);
    expect(out).toHaveLength(1000);
    const a = itemsOf(out, "a") as string[];
    expect(a.slice(0, 7)).toEqual(["a:0", "a:1", "a:2", "a@1:0", "a@1:1", "a@1:2", "a@2:0"]);
  });

  test("a restart that yields nothing drops the source instead of looping; all dropped under never ends the stream", async () => {
    let opened = 0;
    const m = mix(
      [
        { name: "a", weight: 1, source: ({ pass }) => tagged("a", 2, pass) },
        {
          name: "once",
          weight: 1,
          source: ({ pass }) => {
            opened++;
            return pass === 0 ? ["x"] : [];
          },
        },
      ],
      { seed: 1, stopWhen: "never", onExhausted: "drop" },
    );
    m.restore(m.state()); // a no-op resume is harmless
    const out = await collect(m);
    expect(out.map((x) => x.item).sort()).toEqual(["a:0", "a:1", "x"]);
    expect(opened).toBe(1);

    const empties = mix([{ name: "e", weight: 1, source: ({ pass }) => (pass < 2 ? [pass] : []) }], {
      seed: 1,
      stopWhen: "never",
      onExhausted: "restart",
    });
    expect((await collect(empties)).map((x) => x.item)).toEqual([0, 1]);
    expect(empties.state().sources.e).toMatchObject({ pass: 2, dropped: true });
  });

  test("per-source onExhausted overrides the mixture default", async () => {
    const out = await collect(
      mix(
        [
          { name: "loop", weight: 1, source: ({ pass }) => tagged("l", 2, pass), onExhausted: "restart" },
          { name: "once", weight: 1, source: tagged("o", 2) },
        ],
        { seed: 2, stopWhen: "never", onExhausted: "drop" },
      ),
      200,
    );
    expect(out).toHaveLength(200);
    expect(itemsOf(out, "once")).toEqual(["o:0", "o:1"]);
  });

  test("a single source is passed through in order", async () => {
    const out = await collect(
      mix([{ name: "only", weight: 0.1, source: tagged("x", 4) }], { seed: 1, stopWhen: "all_exhausted" }),
    );
    expect(out).toEqual([0, 1, 2, 3].map((i) => ({ source: "only", item: `x:${i}` })));
  });
});

describe("laionMixture under exhaustion", () => {
  test("text runs out and is dropped: LAION keeps exactly p of the steps (nested, not flat, renormalisation)", async () => {
    const out = await collect(
      laionMixture(
        { laion: tagged("laion"), text: tagged("text", 100), local: tagged("local") },
        { laionProb: 0.5, textOnlyProb: 0.3, seed: 4, stopWhen: "never" },
      ),
      40_000,
    );
    expect(itemsOf(out, "text")).toHaveLength(100);
    const laion = itemsOf(out, "laion").length;
    // Binomial χ² (df = 1) for LAION vs the rest at p = 0.5. A flat mixture would give LAION 0.5/0.85 ≈ 59 %.
    expect(chiSquareTest([laion, out.length - laion], [0.5, 0.5]).pValue).toBeGreaterThan(1e-4);
  });

  test("first_exhausted ends the whole mixture when local images run out; all_exhausted drains everything", async () => {
    const local = counting((i) => `img${i}`, 20);
    const laion = counting((i) => i);
    const first = await collect(
      laionMixture(
        { laion: laion.source, text: tagged("text"), local: local.source },
        { laionProb: 0.5, textOnlyProb: 0.5, seed: 8, stopWhen: "first_exhausted" },
      ),
    );
    expect(itemsOf(first, "local")).toHaveLength(20);
    expect(laion.counters.returned).toBe(1);

    const drained = await collect(
      laionMixture(
        { laion: tagged("laion", 30), text: tagged("text", 40), local: tagged("local", 50) },
        { laionProb: 0.2, textOnlyProb: 0.5, seed: 8, stopWhen: "all_exhausted" },
      ),
    );
    expect([
      itemsOf(drained, "laion").length,
      itemsOf(drained, "text").length,
      itemsOf(drained, "local").length,
    ]).toEqual([30, 40, 50]);
  });
});
