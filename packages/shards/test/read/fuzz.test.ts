// Seeded fuzzing of the webdataset reader on the real fixture shards: truncations, bit flips and tar
// headers that lie about their member's size. Property: every damaged shard ends in samples and named
// ShardErrors (through the handler), never an uncaught exception, a hang, or a member past the cap.
// Seeds are fixed, so a failure replays exactly (fast-check prints the seed and the shrunk case).
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { FUZZ_SEED, flipBits, fuzzRuns, HangError, withinTime } from "@laion/test-servers";
import fc from "fast-check";
import { afterAll, describe, expect, test } from "vitest";
import { ShardError, WebDataset } from "../../src/index.js";
import { shard, tempDir } from "./helpers.js";

const CAP = 256 * 1024; // maxMemberBytes for the fuzzed reads: every fixture member is smaller
const HANG_MS = 10_000;

const tmp = tempDir("shards-fuzz-");
afterAll(() => tmp.cleanup());

/** The fixtures as plain tar bytes (sample.tgz gunzipped), so mutations can target tar headers. */
const NAMES = ["tendata.tar", "mpdata.tar", "compressed.tar", "sample.tgz"];
const FIXTURES = NAMES.map((name) => {
  const raw = readFileSync(shard(name));
  return { name, tar: name.endsWith(".tgz") ? gunzipSync(raw) : raw, gzip: name.endsWith(".tgz") };
});
// fast-check draws the fixture's index, so a counterexample prints a name, not megabytes of bytes
const fixtureArb = fc.constantFrom(...NAMES).map(
  (name) => FIXTURES[NAMES.indexOf(name)]!,
  (value) => (value as (typeof FIXTURES)[number]).name,
);

/** Offsets of the tar headers, walking the archive by the sizes its headers declare. */
function headerOffsets(tar: Buffer): number[] {
  const out: number[] = [];
  for (let at = 0; at + 512 <= tar.length; ) {
    if (tar.subarray(at, at + 512).every((b) => b === 0)) break;
    out.push(at);
    const size =
      Number.parseInt(
        tar
          .toString("latin1", at + 124, at + 136)
          .replace(/\0.*$/, "")
          .trim(),
        8,
      ) || 0;
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** Writes `size` into the header at `at` (octal, or base-256 past 8 GiB as GNU tar does) and fixes the checksum. */
function lieAboutSize(tar: Buffer, at: number, size: number): Buffer {
  const out = Buffer.from(tar);
  if (size < 8 ** 11) out.write(`${size.toString(8).padStart(11, "0")}\0`, at + 124, "latin1");
  else {
    out[at + 124] = 0x80;
    out.fill(0, at + 125, at + 136);
    out.writeUIntBE(size, at + 130, 6);
  }
  out.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + 512; i++) sum += out[i]!;
  out.write(`${sum.toString(8).padStart(6, "0")}\0 `, at + 148, "latin1");
  return out;
}

type Mutation =
  | { kind: "truncate"; at: number }
  | { kind: "flip"; bits: number[] }
  | { kind: "size-lie"; header: number; size: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("truncate" as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({
    kind: fc.constant("flip" as const),
    bits: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
  }),
  fc.record({
    kind: fc.constant("size-lie" as const),
    header: fc.nat(),
    size: fc.oneof(fc.nat({ max: 4096 }), fc.integer({ min: 0, max: 2 ** 40 })),
  }),
);

function mutate(tar: Buffer, m: Mutation): Buffer {
  switch (m.kind) {
    case "truncate":
      return tar.subarray(0, Math.floor(m.at * tar.length));
    case "flip":
      return flipBits(tar, m.bits);
    case "size-lie": {
      const offsets = headerOffsets(tar);
      return lieAboutSize(tar, offsets[m.header % offsets.length]!, m.size);
    }
  }
}

/** Reads a shard under the "ignore" handler with a hang guard; returns what came out. */
async function readAll(file: string, handler: "ignore" | "raise") {
  const errors: unknown[] = [];
  const sizes: number[] = [];
  let samples = 0;
  const run = (async () => {
    for await (const sample of WebDataset(file, {
      handler,
      maxMemberBytes: CAP,
      onError: (error) => errors.push(error),
    })) {
      samples++;
      for (const [key, value] of Object.entries(sample))
        if (!key.startsWith("__")) sizes.push((value as Uint8Array).byteLength);
    }
  })();
  await withinTime(run, HANG_MS, file);
  return { samples, errors, sizes };
}

let n = 0;
function writeMutated(fixture: (typeof FIXTURES)[number], m: Mutation, gzipAfter: boolean): string {
  const bytes = mutate(fixture.tar, m);
  const file = path.join(tmp.dir, `${n++}-${fixture.name}${gzipAfter && !fixture.gzip ? ".gz" : ""}`);
  writeFileSync(file, gzipAfter ? gzipSync(bytes) : bytes);
  return file;
}

describe("fuzzed fixture shards", () => {
  test("truncations, bit flips and size lies: samples and named ShardErrors only, members under the cap", async () => {
    await fc.assert(
      fc.asyncProperty(fixtureArb, mutation, fc.boolean(), async (fixture, m, gzipAfter) => {
        const file = writeMutated(fixture, m, gzipAfter || fixture.gzip);
        const { errors, sizes } = await readAll(file, "ignore");
        for (const error of errors) {
          expect(error).toBeInstanceOf(ShardError);
          expect((error as ShardError).url).toBe(file);
          expect((error as ShardError).message.startsWith(file)).toBe(true);
        }
        for (const size of sizes) expect(size).toBeLessThanOrEqual(CAP);
      }),
      { seed: FUZZ_SEED, numRuns: fuzzRuns() },
    );
  });

  test('under "raise" a damaged shard rejects with a ShardError naming it, or reads to the end', async () => {
    await fc.assert(
      fc.asyncProperty(fixtureArb, mutation, async (fixture, m) => {
        const file = writeMutated(fixture, m, fixture.gzip);
        try {
          await readAll(file, "raise");
        } catch (error) {
          if (error instanceof HangError) throw error;
          expect(error).toBeInstanceOf(ShardError);
          expect((error as ShardError).url).toBe(file);
        }
      }),
      { seed: FUZZ_SEED + 1, numRuns: fuzzRuns() },
    );
  });

  test("a size lie is caught: a header claiming 1 TiB is skipped by name, not buffered", async () => {
    const fixture = FIXTURES[0]!;
    const file = writeMutated(fixture, { kind: "size-lie", header: 3, size: 2 ** 40 }, false);
    const { errors } = await readAll(file, "ignore");
    expect(errors.length).toBeGreaterThan(0);
    expect((errors[0] as ShardError).message).toMatch(/over max-member-bytes|truncated tar/);
  });

  test("a directory header that claims a size does not hang the reader (found by this suite)", async () => {
    const fixture = FIXTURES[NAMES.indexOf("compressed.tar")]!;
    const file = writeMutated(fixture, { kind: "size-lie", header: 0, size: 3826 }, false);
    const { samples } = await readAll(file, "raise");
    expect(samples).toBe(3);
  });
});
