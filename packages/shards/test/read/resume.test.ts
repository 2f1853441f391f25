import { writeFileSync } from "node:fs";
import path from "node:path";
import { createRng, mix } from "@laion/mixer";
import { fixturePath } from "@laion/test-servers";
import { afterAll, describe, expect, test } from "vitest";
import {
  LocalCaptionedImages,
  TextCorpus,
  WebDataset,
  type WebDatasetOptions,
  type WebDatasetState,
} from "../../src/index.js";
import { collect, shard, tempDir } from "./helpers.js";

const tmp = tempDir();
afterAll(tmp.cleanup);

// The real webdataset test shards (100 + 100 + 90 + 10 samples), listed twice so a 2-way split still has 4 shards each.
const REAL = ["tendata.tar", "mpdata.tar", "sample.tgz", "compressed.tar"].map(shard);
const SHARDS = [...REAL, ...REAL];
const id = (s: { __key__: string; __url__: string }) => `${path.basename(s.__url__)}/${s.__key__}`;

/** Any resumable source: `state()` after each item of an uninterrupted run, then the items. */
async function referenceRun<T, S>(
  reader: AsyncIterable<T> & { state(): S },
  limit = Number.POSITIVE_INFINITY,
): Promise<{ items: T[]; states: S[] }> {
  const items: T[] = [];
  const states: S[] = [reader.state()];
  for await (const item of reader) {
    items.push(item);
    // Through JSON, as a checkpoint stores it.
    states.push(JSON.parse(JSON.stringify(reader.state())) as S);
    if (items.length >= limit) break;
  }
  return { items, states };
}

/** Seeded cut points in [0, n], always with the first, the last and one in the middle. */
function cutPoints(n: number, count: number, seed: number): number[] {
  const rng = createRng(seed);
  const cuts = new Set([0, Math.floor(n / 2), n]);
  while (cuts.size < Math.min(count + 3, n + 1)) cuts.add(rng.nextInt(n + 1));
  return [...cuts].sort((a, b) => a - b);
}

describe("WebDataset resumes by seeking", () => {
  const configs: [string, WebDatasetOptions, number?][] = [
    ["plain", {}],
    [
      "shuffleShards + shuffleBuffer + split",
      { shuffleShards: true, shuffleBuffer: 16, seed: 5, epoch: 2, split: { rank: 1, worldSize: 2 } },
    ],
    [
      "resample + shuffleBuffer + worker split",
      { resample: true, shuffleBuffer: 7, seed: 3, split: { workerId: 1, numWorkers: 3 } },
      700,
    ],
  ];
  test.each(configs)(
    "%s: the continuation from a state at any cut point equals the uninterrupted run",
    async (_, options, limit) => {
      const { items, states } = await referenceRun(WebDataset(SHARDS, options), limit);
      const reference = items.map(id);
      expect(reference.length).toBeGreaterThan(100);
      for (const cut of cutPoints(reference.length, 6, reference.length)) {
        const state = states[cut] as WebDatasetState;
        expect(JSON.stringify(state).length).toBeLessThan(150);
        const resumed = WebDataset(SHARDS, options);
        resumed.restore(state);
        const rest = (await collect(resumed, reference.length - cut)).map(id);
        expect(rest, `cut at ${cut}: ${JSON.stringify(state)}`).toEqual(reference.slice(cut));
      }
    },
    60_000,
  );

  test("restore opens no shard before the one it stops in, and reads on with the shuffled order", async () => {
    const options = { shuffleBuffer: 10, seed: 9 };
    const reference = (await collect(WebDataset(REAL, options))).map(id);
    // Shard 0 replaced by a missing file: a resume that opened it would fail under "raise".
    const list = [path.join(tmp.dir, "gone.tar"), ...REAL.slice(1)];
    const resumed = WebDataset(list, options);
    resumed.restore({ version: 1, seed: 9, epoch: 0, shards: 4, shard: 1, sample: 37 });
    expect((await collect(resumed)).map(id)).toEqual(reference.slice(100 + 37));
  });

  test("state() is position-only: the same at 1 and at a million samples in, so a resume costs one shard", async () => {
    const reader = WebDataset(Array(10_000).fill(REAL[0]), {
      shuffleShards: true,
      shuffleBuffer: 50,
      seed: 1,
    });
    reader.restore({ version: 1, seed: 1, epoch: 0, shards: 10_000, shard: 9_999, sample: 99 });
    const [last] = await collect(reader, 1);
    expect(last?.__url__).toBe(REAL[0]);
    expect(reader.state()).toEqual({
      version: 1,
      seed: 1,
      epoch: 0,
      shards: 10_000,
      shard: 9_999,
      sample: 100,
    });
  });

  test("a state from another seed, epoch or shard list is refused with the reason", async () => {
    const reader = WebDataset(REAL, { seed: 1, epoch: 1 });
    const state: WebDatasetState = { version: 1, seed: 1, epoch: 1, shards: 4, shard: 0, sample: 0 };
    expect(() => reader.restore({ ...state, seed: 2 })).toThrow(
      /state of seed 2, epoch 1 into a reader with seed 1, epoch 1/,
    );
    expect(() => reader.restore({ ...state, sample: -1 })).toThrow(/state.sample is -1, not a count/);
    reader.restore({ ...state, shards: 5 });
    await expect(collect(reader)).rejects.toThrow(/saved state is for 5 shards, but .* resolves to 4/);
  });

  test("inside a mixture with restarts (epoch = pass), a resumed mixer continues the identical sequence", async () => {
    const corpus = fixturePath("sinhala", "corpus.txt");
    const sources = () => [
      {
        name: "laion",
        weight: 3,
        source: ({ pass }: { pass: number }) =>
          WebDataset(REAL.slice(0, 2), { shuffleShards: true, shuffleBuffer: 8, seed: 4, epoch: pass }),
      },
      { name: "text", weight: 1, source: () => TextCorpus(corpus) },
    ];
    const options = { seed: 12, stopWhen: "never" as const, onExhausted: "restart" as const };
    const full = mix(sources(), options);
    const { items, states } = await referenceRun(full, 500);
    const label = (m: { source: string; item: unknown }) =>
      `${m.source}:${(m.item as { __key__: string }).__key__}`;
    for (const cut of [37, 201, 260, 433]) {
      const resumed = mix(sources(), { ...options, resume: states[cut] });
      expect((await collect(resumed, 500 - cut)).map(label), `cut ${cut}`).toEqual(
        items.slice(cut).map(label),
      );
    }
  });
});

describe("TextCorpus resumes by byte offset", () => {
  const corpus = fixturePath("sinhala", "corpus.txt");
  const jsonl = path.join(import.meta.dirname, "fixtures", "sinhala.jsonl");
  const paragraphs = path.join(import.meta.dirname, "fixtures", "sinhala-paragraphs.txt");

  test.each([
    ["line mode, txt + jsonl, with a BOM", "line" as const],
    ["paragraph mode", "paragraph" as const],
  ])("%s: the continuation from a state at any cut point equals the uninterrupted run", async (_, mode) => {
    const bom = path.join(tmp.dir, "bom.txt");
    writeFileSync(bom, "\ufeffපළමු\r\n\r\nදෙවැනි\nතෙවැනි\n");
    const files = [bom, corpus, jsonl, paragraphs];
    const { items, states } = await referenceRun(TextCorpus(files, { mode, readBufferSize: 5 }));
    expect(items.length).toBeGreaterThan(8);
    for (const cut of cutPoints(items.length, 8, items.length)) {
      const resumed = TextCorpus(files, { mode, readBufferSize: 5 });
      resumed.restore(states[cut] as never);
      expect(await collect(resumed), `cut ${cut}`).toEqual(items.slice(cut));
    }
  });

  test("a resume reads from the saved offset: bytes before it are never decoded", async () => {
    const file = path.join(tmp.dir, "tail.txt");
    writeFileSync(file, Buffer.concat([Buffer.from([0xff, 0xfe, 0x0a]), Buffer.from("ok\n")]));
    const reader = TextCorpus(file);
    reader.restore({ version: 1, files: 1, file: 0, path: file, offset: 3, line: 1 });
    expect((await collect(reader)).map((d) => [d.__key__, d.txt])).toEqual([["tail:2", "ok"]]);
  });

  test("a state for another file list is refused, naming both", async () => {
    const reader = TextCorpus([corpus]);
    reader.restore({ version: 1, files: 2, file: 1, path: "/x/other.txt", offset: 0, line: 0 });
    await expect(collect(reader)).rejects.toThrow(
      /file 1 \(\/x\/other.txt\) of 2, but the paths now give 1 files/,
    );
  });
});

describe("LocalCaptionedImages resumes by entry", () => {
  test("the continuation from every state equals the uninterrupted run, counts included", async () => {
    const captions = fixturePath("explicit_media", "captions.json");
    const { items, states } = await referenceRun(LocalCaptionedImages({ captions }));
    expect(items.length).toBeGreaterThan(2);
    for (let cut = 0; cut <= items.length; cut++) {
      const resumed = LocalCaptionedImages({ captions });
      resumed.restore(states[cut] as never);
      expect((await collect(resumed)).map((s) => s.__key__)).toEqual(items.slice(cut).map((s) => s.__key__));
      expect(resumed.stats.images).toBe(items.length);
    }
  });

  test("a state for an edited captions file is refused", async () => {
    const captions = path.join(tmp.dir, "c.json");
    writeFileSync(captions, JSON.stringify({ "a.jpg": "x" }));
    const reader = LocalCaptionedImages({ captions });
    reader.restore({ version: 1, entries: 3, next: 1, images: 1, missing: 0 });
    await expect(collect(reader)).rejects.toThrow(/saved state is for 3 entries, the file now has 1/);
  });
});
