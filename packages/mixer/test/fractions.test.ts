import { describe, expect, test } from "vitest";
import { laionMixture, mix } from "../src/index";
import { tagged } from "./fakes";
import { chiSquareSurvival, chiSquareTest } from "./stats";

const DRAWS = 100_000;
/** Deterministic at fixed seeds; 1e-4 leaves room for every (seed, config) pair here to pass by chance. */
const ALPHA = 1e-4;
const NAMES = ["laion", "text", "local"] as const;

function expected(p: number, t: number): number[] {
  return [p, (1 - p) * t, (1 - p) * (1 - t)];
}

async function countNames(stream: AsyncIterable<{ source: string }>, n: number): Promise<number[]> {
  const counts = new Map<string, number>();
  let i = 0;
  for await (const { source } of stream) {
    counts.set(source, (counts.get(source) ?? 0) + 1);
    if (++i >= n) break;
  }
  return NAMES.map((name) => counts.get(name) ?? 0);
}

function laionCounts(p: number, t: number, seed: number): Promise<number[]> {
  const stream = laionMixture(
    { laion: () => tagged("laion"), text: () => tagged("text"), local: () => tagged("local") },
    { laionProb: p, textOnlyProb: t, seed, stopWhen: "never" },
  );
  return countNames(stream, DRAWS);
}

describe("the χ² check itself", () => {
  test("its p-values are right: df = 2 is exp(-x/2), df = 1 at 3.841 is 0.05", () => {
    for (const x of [0.5, 2, 10, 18.42, 40])
      expect(chiSquareSurvival(x, 2)).toBeCloseTo(Math.exp(-x / 2), 12);
    expect(chiSquareSurvival(3.841458820694124, 1)).toBeCloseTo(0.05, 10);
    expect(chiSquareSurvival(11.070497693516351, 5)).toBeCloseTo(0.05, 10);
  });

  test("rejects a mixer that ignores the weights (uniform over the three sources)", async () => {
    const uniform = mix(
      NAMES.map((name) => ({ name, weight: 1, source: tagged(name) })),
      { seed: 1, stopWhen: "never" },
    );
    const counts = await countNames(uniform, DRAWS);
    expect(chiSquareTest(counts, expected(0.5, 0.3)).pValue).toBeLessThan(ALPHA);
  });

  test("rejects the tempting wrong formula (weights p, t, 1-t) and a LAION share off by one point", async () => {
    const wrongFormula = mix(
      [
        { name: "laion", weight: 0.5, source: tagged("laion") },
        { name: "text", weight: 0.3, source: tagged("text") },
        { name: "local", weight: 0.7, source: tagged("local") },
      ],
      { seed: 1, stopWhen: "never" },
    );
    expect(chiSquareTest(await countNames(wrongFormula, DRAWS), expected(0.5, 0.3)).pValue).toBeLessThan(
      ALPHA,
    );
    expect(chiSquareTest(await laionCounts(0.51, 0.3, 1), expected(0.5, 0.3)).pValue).toBeLessThan(ALPHA);
  });
});

/** Counts of consecutive (previous, next) source pairs, 3 × 3 = 9 categories. */
async function pairCounts(stream: AsyncIterable<{ source: string }>, n: number): Promise<number[]> {
  const counts = new Array<number>(9).fill(0);
  let previous = -1;
  let i = 0;
  for await (const { source } of stream) {
    const k = NAMES.indexOf(source as (typeof NAMES)[number]);
    if (previous >= 0) counts[previous * 3 + k]!++;
    previous = k;
    if (++i >= n) break;
  }
  return counts;
}

const pairExpected = (f: number[]) => f.flatMap((a) => f.map((b) => a * b));

/** Nginx's smooth weighted round robin: exact long-run fractions, but no randomness at all. */
async function* weightedRoundRobin(weights: number[]): AsyncGenerator<{ source: string }> {
  const current = weights.map(() => 0);
  const total = weights.reduce((a, b) => a + b, 0);
  for (;;) {
    let best = 0;
    for (let i = 0; i < weights.length; i++) {
      current[i]! += weights[i]!;
      if (current[i]! > current[best]!) best = i;
    }
    current[best]! -= total;
    yield { source: NAMES[best]! };
  }
}

describe("draws are independent, not just in the right proportions", () => {
  test("consecutive pairs match the product of the fractions (χ², df = 8)", async () => {
    const stream = laionMixture(
      { laion: tagged("laion"), text: tagged("text"), local: tagged("local") },
      { laionProb: 0.5, textOnlyProb: 0.3, seed: 1, stopWhen: "never" },
    );
    const result = chiSquareTest(await pairCounts(stream, DRAWS), pairExpected(expected(0.5, 0.3)));
    expect(result.df).toBe(8);
    expect(result.pValue).toBeGreaterThan(ALPHA);
  });

  test("a deterministic quota scheduler passes the fractions check but fails the pairs check", async () => {
    const fractions = chiSquareTest(
      await countNames(weightedRoundRobin([10, 3, 7]), DRAWS),
      expected(0.5, 0.3),
    );
    expect(fractions.pValue).toBeGreaterThan(ALPHA); // too good a fit, in fact
    const pairs = chiSquareTest(
      await pairCounts(weightedRoundRobin([10, 3, 7]), DRAWS),
      pairExpected(expected(0.5, 0.3)),
    );
    expect(pairs.pValue).toBeLessThan(ALPHA);
  });
});

describe("laionMixture fractions over 100k draws", () => {
  const configs: [number, number][] = [
    [0.5, 0.3],
    [0.2, 0.7],
    [0.9, 0.5],
    [0.05, 0.95],
  ];
  for (const [p, t] of configs) {
    test(`p=${p}, t=${t}: LAION p, text (1-p)t, local (1-p)(1-t) (χ², df=2, seeds 1-3)`, async () => {
      for (const seed of [1, 2, 3]) {
        const counts = await laionCounts(p, t, seed);
        const result = chiSquareTest(counts, expected(p, t));
        expect(result.df).toBe(2);
        expect(result.pValue, `seed ${seed}: counts ${counts}, χ²=${result.statistic}`).toBeGreaterThan(
          ALPHA,
        );
      }
    });
  }

  test("p=0.5, t=0.3 gives 50 % LAION, 15 % text, 35 % local (the worked example in docs/mixing.md)", async () => {
    const counts = await laionCounts(0.5, 0.3, 11);
    const fractions = counts.map((c) => c / DRAWS);
    // 4 standard errors of a binomial fraction at n = 100k is at most 0.0064.
    expect(Math.abs(fractions[0]! - 0.5)).toBeLessThan(0.0064);
    expect(Math.abs(fractions[1]! - 0.15)).toBeLessThan(0.0064);
    expect(Math.abs(fractions[2]! - 0.35)).toBeLessThan(0.0064);
  });

  test("edge probabilities: impossible sources get exactly 0 draws, the rest still match", async () => {
    for (const [p, t, zero] of [
      [0, 0.3, [0]],
      [1, 0.3, [1, 2]],
      [0.4, 0, [1]],
      [0.4, 1, [2]],
      [0, 1, [0, 2]],
    ] as [number, number, number[]][]) {
      const counts = await laionCounts(p, t, 5);
      for (const i of zero) expect(counts[i], `p=${p} t=${t} ${NAMES[i]}`).toBe(0);
      expect(chiSquareTest(counts, expected(p, t)).pValue).toBeGreaterThan(ALPHA);
    }
  });
});

test("mix: weights need not sum to 1 (2 : 5 : 3 over four seeds)", async () => {
  for (const seed of [10, 20, 30, 40]) {
    const stream = mix(
      [
        { name: "laion", weight: 2, source: tagged("a") },
        { name: "text", weight: 5, source: tagged("b") },
        { name: "local", weight: 3, source: tagged("c") },
      ],
      { seed, stopWhen: "never" },
    );
    const counts = await countNames(stream, DRAWS);
    expect(chiSquareTest(counts, [0.2, 0.5, 0.3]).pValue).toBeGreaterThan(ALPHA);
  }
});
