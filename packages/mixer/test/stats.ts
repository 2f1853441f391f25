/**
 * Pearson's χ² goodness-of-fit test, used to check that a mixture's empirical fractions match the
 * configured ones. Categories with expected probability 0 are not part of the statistic; they must
 * have count 0 exactly (a single draw from an impossible category rejects outright).
 */
export interface ChiSquareResult {
  statistic: number;
  df: number;
  pValue: number;
}

/** log Γ(x) for x > 0 (Lanczos, g = 7, n = 9; ~15 significant digits). */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0] as number;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularized upper incomplete gamma Q(a, x) (Numerical Recipes: series below a+1, continued fraction above). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const lead = -x + a * Math.log(x) - logGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 1000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-16) break;
    }
    return 1 - sum * Math.exp(lead);
  }
  let b = x + 1 - a;
  let c = 1 / 1e-300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(lead) * h;
}

/** P(χ²_df ≥ statistic). */
export function chiSquareSurvival(statistic: number, df: number): number {
  return gammaQ(df / 2, statistic / 2);
}

export function chiSquareTest(counts: readonly number[], probabilities: readonly number[]): ChiSquareResult {
  if (counts.length !== probabilities.length)
    throw new Error("chiSquareTest: counts and probabilities differ in length");
  const n = counts.reduce((a, b) => a + b, 0);
  let statistic = 0;
  let df = -1;
  for (let i = 0; i < counts.length; i++) {
    const p = probabilities[i] as number;
    const observed = counts[i] as number;
    if (p === 0) {
      if (observed > 0) return { statistic: Number.POSITIVE_INFINITY, df: Math.max(df, 0), pValue: 0 };
      continue;
    }
    const expected = n * p;
    statistic += (observed - expected) ** 2 / expected;
    df++;
  }
  // One category with p = 1: the only possible outcome is all draws there, which the loop confirmed.
  if (df === 0) return { statistic: 0, df: 0, pValue: 1 };
  return { statistic, df, pValue: chiSquareSurvival(statistic, df) };
}
