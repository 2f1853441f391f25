// Seeded fuzzing of the parquet reader on the real LAION fixture: truncations and bit flips. Property:
// every damaged file gives rows or a FetchError naming the file — never another exception or a hang.
import fs from "node:fs";
import path from "node:path";
import { FUZZ_SEED, fixturePath, flipBits, fuzzRuns, HangError, withinTime } from "@laion/test-servers";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { FetchError, fetchLaion } from "../src/index.js";
import { tempDir } from "./helpers.js";

const HANG_MS = 15_000;
const ORIGINAL = fs.readFileSync(fixturePath("laion/test_1000.parquet"));

type Mutation = { kind: "truncate"; at: number } | { kind: "flip"; bits: number[]; nearEnd: boolean };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("truncate" as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({
    kind: fc.constant("flip" as const),
    bits: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
    // half the flips land in the footer (schema, row-group and page offsets), where lies do the most harm
    nearEnd: fc.boolean(),
  }),
);

function mutate(bytes: Buffer, m: Mutation): Buffer {
  if (m.kind === "truncate") return bytes.subarray(0, Math.floor(m.at * bytes.length));
  const footer = bytes.readUInt32LE(bytes.length - 8) + 8;
  return m.nearEnd ? flipBits(bytes, m.bits, bytes.length - footer, footer) : flipBits(bytes, m.bits);
}

async function readRows(file: string): Promise<number> {
  let rows = 0;
  const run = (async () => {
    for await (const _ of fetchLaion({ sources: [{ location: file, kind: "file" }] }).rows) rows++;
  })();
  await withinTime(run, HANG_MS, file);
  return rows;
}

describe("fuzzed parquet input", () => {
  test("truncations and bit flips of test_1000.parquet: rows, or a FetchError naming the file", async () => {
    const dir = tempDir();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const file = path.join(dir, `${n++}.parquet`);
        fs.writeFileSync(file, mutate(ORIGINAL, m));
        try {
          const rows = await readRows(file);
          expect(rows).toBeLessThanOrEqual(1000);
        } catch (error) {
          if (error instanceof HangError) throw error;
          expect(error).toBeInstanceOf(FetchError);
          expect((error as Error).message).toContain(file);
        }
      }),
      { seed: FUZZ_SEED, numRuns: fuzzRuns() },
    );
  });
});
