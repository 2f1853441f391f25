import { describe, expect, test } from "vitest";
import { createRng, laionMixture, type Mixed, type Mixer, type MixState, mix, seekable } from "../src/index";
import { collect, counting, tagged } from "./fakes";

type Build = (resume?: MixState) => Mixer<Mixed>;

/** The uninterrupted run, and the run cut at `cuts` (resumed from a JSON round trip of state() each time). */
async function runInPieces(build: Build, cuts: number[], total: number): Promise<Mixed[]> {
  const out: Mixed[] = [];
  let state: MixState | undefined;
  let at = 0;
  for (const cut of [...cuts, total]) {
    const m = build(state);
    out.push(...(await collect(m, cut - at)));
    state = JSON.parse(JSON.stringify(m.state())) as MixState;
    at = cut;
  }
  return out;
}

/** Random single cuts and one three-piece run, for each seed; every run must equal the uninterrupted one. */
async function expectResumesIdentically(build: (seed: number) => Build, limit = Number.POSITIVE_INFINITY) {
  for (const seed of [1, 2, 3, 4]) {
    const full = await collect(build(seed)(), limit);
    const total = full.length;
    expect(total).toBeGreaterThan(10);
    const rng = createRng(1000 + seed);
    const cuts = [0, 1, total - 1, total, ...Array.from({ length: 6 }, () => rng.nextInt(total))];
    for (const cut of cuts) {
      expect(await runInPieces(build(seed), [cut], total), `seed ${seed}, cut ${cut}`).toEqual(full);
    }
    const [a, b] = [rng.nextInt(total), rng.nextInt(total)].sort((x, y) => x - y) as [number, number];
    expect(await runInPieces(build(seed), [a, b], total), `seed ${seed}, cuts ${a}, ${b}`).toEqual(full);
  }
}

describe("resume continues the identical sequence", () => {
  test("flat mixture of plain iterables (replayed on resume), all_exhausted", async () => {
    await expectResumesIdentically(
      (seed) => (resume) =>
        mix(
          [
            { name: "a", weight: 2, source: tagged("a", 50) },
            { name: "b", weight: 1, source: Array.from({ length: 80 }, (_, i) => `b${i}`) },
            { name: "c", weight: 0.5, source: tagged("c", 30) },
          ],
          { seed, stopWhen: "all_exhausted", resume },
        ),
    );
  });

  test("first_exhausted and all_exhausted + restart, run to their natural end", async () => {
    for (const stopWhen of ["first_exhausted", "all_exhausted"] as const) {
      await expectResumesIdentically(
        (seed) => (resume) =>
          mix(
            [
              { name: "short", weight: 3, source: ({ pass }) => tagged("s", 9, pass) },
              { name: "long", weight: 1, source: ({ pass }) => tagged("l", 25, pass) },
            ],
            { seed, stopWhen, onExhausted: "restart", resume },
          ),
      );
    }
  });

  test("nested mixtures with a restarting source, a dropped source and an endless one", async () => {
    await expectResumesIdentically(
      (seed) => (resume) =>
        mix(
          [
            { name: "laion", weight: 0.5, source: tagged("laion") },
            {
              name: "base",
              weight: 0.5,
              source: mix(
                [
                  {
                    name: "text",
                    weight: 0.3,
                    source: ({ pass }) => tagged("text", 7, pass),
                    onExhausted: "restart",
                  },
                  { name: "local", weight: 0.7, source: tagged("local", 40) },
                  {
                    name: "deeper",
                    weight: 0.2,
                    source: mix(
                      [
                        { name: "x", weight: 1, source: ({ pass }) => tagged("x", 3, pass) },
                        { name: "y", weight: 2, source: ({ pass }) => tagged("y", 4, pass) },
                      ],
                      { seed: seed + 100, stopWhen: "never", onExhausted: "restart" },
                    ),
                  },
                ],
                { seed: seed + 10, stopWhen: "never" },
              ),
            },
          ],
          { seed, stopWhen: "never", resume },
        ),
      600,
    );
  });

  test("laionMixture with restarting factories", async () => {
    await expectResumesIdentically(
      (seed) => (resume) =>
        laionMixture(
          {
            laion: ({ pass }) => tagged("laion", 13, pass),
            text: ({ pass }) => tagged("text", 5, pass),
            local: ({ pass }) => tagged("local", 8, pass),
          },
          { laionProb: 0.4, textOnlyProb: 0.3, seed, stopWhen: "never", onExhausted: "restart", resume },
        ) as Mixer<Mixed>,
      500,
    );
  });

  test("the state is small JSON with counts, flags and the nested mixture's state", async () => {
    const m = laionMixture(
      { laion: tagged("laion"), text: tagged("text", 3), local: tagged("local") },
      { laionProb: 0.5, textOnlyProb: 0.5, seed: 1, stopWhen: "never" },
    );
    const out = await collect(m, 100);
    const state = m.state();
    expect(JSON.stringify(state).length).toBeLessThan(1000);
    expect(state.steps).toBe(100);
    const laion = out.filter((x) => x.source === "laion").length;
    expect(state.sources.laion).toEqual({
      pass: 0,
      consumed: laion,
      total: laion,
      exhausted: false,
      dropped: false,
    });
    const nested = state.sources.base!.nested as MixState;
    expect(nested.sources.text).toMatchObject({ consumed: 3, exhausted: true, dropped: true });
    expect(nested.steps).toBe(100 - laion);
  });

  test("a state taken after the natural end resumes to an empty stream", async () => {
    const build = (resume?: MixState) =>
      mix([{ name: "a", weight: 1, source: [1, 2] }], { seed: 1, stopWhen: "all_exhausted", resume });
    const m = build();
    await collect(m);
    expect(m.state().ended).toBe(true);
    expect(await collect(build(m.state()))).toEqual([]);
  });
});

describe("resume costs and contract", () => {
  test("a plain source is replayed (skipped items are pulled again); a seekable one is not", async () => {
    const plain = counting((i) => i);
    const seekOpens: number[] = [];
    const build = (source: AsyncIterable<number>, resume?: MixState) =>
      mix(
        [
          { name: "plain", weight: 1, source },
          {
            name: "seek",
            weight: 1,
            source: seekable((offset) => {
              seekOpens.push(offset);
              return skipN(tagged("s", 1000), offset);
            }),
          },
        ],
        { seed: 3, stopWhen: "never", resume },
      );
    const first = build(counting((i) => i).source);
    const head = await collect(first, 100);
    const fromPlain = head.filter((x) => x.source === "plain").length;
    const resumed = build(plain.source, first.state());
    const tail = await collect(resumed, 10);
    const plainInTail = tail.filter((x) => x.source === "plain").length;
    expect(plain.counters.pulled).toBe(fromPlain + plainInTail); // replay: the skipped items were pulled
    expect(seekOpens).toEqual([0, 100 - fromPlain]); // seek: opened right at the saved offset
    expect(tail.find((x) => x.source === "seek")?.item).toBe(`s:${100 - fromPlain}`);
  });

  test("resuming with different sources is an error that says what differs", async () => {
    const m = mix([{ name: "a", weight: 1, source: [1, 2, 3] }], { seed: 1, stopWhen: "all_exhausted" });
    await collect(m, 2);
    const state = m.state();
    expect(() =>
      mix([{ name: "b", weight: 1, source: [1] }], { seed: 1, stopWhen: "never", resume: state }),
    ).toThrow("the saved state has sources [a] but this mixture has [b]");
    const shorter = mix([{ name: "a", weight: 1, source: [1] }], {
      seed: 1,
      stopWhen: "never",
      resume: state,
    });
    await expect(collect(shorter)).rejects.toThrow(
      'cannot resume source "a": it ended after 1 items, but the saved state says 2 were taken from pass 0',
    );
    expect(() =>
      mix([{ name: "a", weight: 1, source: [1] }], {
        seed: 1,
        stopWhen: "never",
        resume: { ...state, version: 2 as 1 },
      }),
    ).toThrow("version 1");
  });

  test("restore() after iteration has started is refused", async () => {
    const m = mix([{ name: "a", weight: 1, source: [1, 2, 3] }], { seed: 1, stopWhen: "never" });
    await collect(m, 1);
    expect(() => m.restore(m.state())).toThrow("before the mixer is iterated");
  });
});

async function* skipN<T>(source: AsyncIterable<T>, n: number): AsyncGenerator<T> {
  let i = 0;
  for await (const x of source) if (i++ >= n) yield x;
}
