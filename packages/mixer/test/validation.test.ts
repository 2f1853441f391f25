import { describe, expect, test } from "vitest";
import { laionMixture, mix, type SourceSpec, type StopWhen } from "../src/index";

const make = (sources: SourceSpec[], options: Partial<Parameters<typeof mix>[1]> = {}) =>
  mix(sources, { seed: 1, stopWhen: "never", ...options });

describe("weights and options are validated up front, naming the source and the value", () => {
  test.each([
    [-1, 'source "bad" has weight -1; a weight must be a finite number ≥ 0'],
    [Number.NaN, 'source "bad" has weight NaN'],
    [Number.POSITIVE_INFINITY, 'source "bad" has weight Infinity'],
    ["0.5" as unknown as number, 'source "bad" has weight 0.5'],
  ])("weight %s", (weight, message) => {
    expect(() =>
      make([
        { name: "good", weight: 1, source: [1] },
        { name: "bad", weight, source: [1] },
      ]),
    ).toThrow(message);
  });

  test("all-zero weights, no sources, duplicate or empty names, non-iterable sources", () => {
    expect(() =>
      make([
        { name: "a", weight: 0, source: [1] },
        { name: "b", weight: 0, source: [1] },
      ]),
    ).toThrow("every weight is 0 (a=0, b=0); at least one source needs a positive weight");
    expect(() => make([])).toThrow("at least one source is required");
    expect(() =>
      make([
        { name: "a", weight: 1, source: [1] },
        { name: "a", weight: 1, source: [2] },
      ]),
    ).toThrow('two sources are named "a"');
    expect(() => make([{ name: "", weight: 1, source: [1] }])).toThrow("non-empty string name");
    expect(() => make([{ name: "n", weight: 1, source: 42 as unknown as number[] }])).toThrow(
      'source "n" must be an AsyncIterable, an Iterable or a factory function; got number 42',
    );
  });

  test("seed, stopWhen and onExhausted", () => {
    const one = [{ name: "a", weight: 1, source: [1] }];
    expect(() => make(one, { seed: 0.5 })).toThrow("seed must be a safe integer, got 0.5");
    expect(() => make(one, { stopWhen: "sometimes" as StopWhen })).toThrow(
      'stopWhen must be one of first_exhausted, all_exhausted, never; got "sometimes"',
    );
    expect(() => make(one, { onExhausted: "loop" as "drop" })).toThrow(
      'onExhausted must be "drop" or "restart"; got "loop"',
    );
    expect(() => make(one, { onExhausted: "restart" })).toThrow(
      'source "a" is set to restart when exhausted, which needs a factory',
    );
    // Under first_exhausted a restart can never happen, so an iterable is fine.
    expect(() => make(one, { onExhausted: "restart", stopWhen: "first_exhausted" })).not.toThrow();
  });

  test("a factory that returns a non-iterable fails when first used, naming the source", async () => {
    const m = make([{ name: "f", weight: 1, source: (() => 5) as unknown as () => number[] }]);
    await expect(m[Symbol.asyncIterator]().next()).rejects.toThrow(
      'the factory of source "f" returned number 5',
    );
  });
});

describe("laionMixture validation", () => {
  const sources = { laion: [1], text: [2], local: [3] };
  test("probabilities must be in [0, 1], named by option", () => {
    for (const [laionProb, textOnlyProb, message] of [
      [1.5, 0.3, "laionProb must be a number in [0, 1]; got 1.5"],
      [-0.1, 0.3, "laionProb must be a number in [0, 1]; got -0.1"],
      [0.5, Number.NaN, "textOnlyProb must be a number in [0, 1]; got NaN"],
    ] as [number, number, string][]) {
      expect(() => laionMixture(sources, { laionProb, textOnlyProb, seed: 1, stopWhen: "never" })).toThrow(
        message,
      );
    }
  });

  test("a null source is allowed only where its share is 0", () => {
    expect(() =>
      laionMixture(
        { ...sources, laion: null },
        { laionProb: 0.5, textOnlyProb: 0.3, seed: 1, stopWhen: "never" },
      ),
    ).toThrow("the laion source is null, but its share of steps is 0.5 (laionProb=0.5, textOnlyProb=0.3)");
    expect(() =>
      laionMixture(
        { ...sources, text: null },
        { laionProb: 0.5, textOnlyProb: 0, seed: 1, stopWhen: "never" },
      ),
    ).not.toThrow();
    expect(() =>
      laionMixture(
        { ...sources, local: null },
        { laionProb: 0.5, textOnlyProb: 0.3, seed: 1, stopWhen: "never" },
      ),
    ).toThrow("the local source is null, but its share of steps is 0.35");
  });
});
