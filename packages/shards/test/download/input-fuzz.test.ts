// Seeded fuzzing of the downloader's parquet input on the real LAION fixture: truncations and bit flips.
// Property: rows, or an InputError naming the file — never another exception or a hang.
import fs from "node:fs";
import path from "node:path";
import { FUZZ_SEED, fixturePath, flipBits, fuzzRuns, HangError, withinTime } from "@laion/test-servers";
import fc from "fast-check";
import { afterAll, expect, test } from "vitest";
import { InputError, openInput } from "../../src/download/index.js";
import { tempDir } from "./helpers.js";

const ORIGINAL = fs.readFileSync(fixturePath("laion/test_1000.parquet"));
const dir = tempDir("input-fuzz");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const mutation = fc.oneof(
  fc.double({ min: 0, max: 1, noNaN: true }).map((at) => ({ truncate: at, bits: [] as number[] })),
  fc.array(fc.nat(), { minLength: 1, maxLength: 8 }).map((bits) => ({ truncate: 1, bits })),
);

async function countRows(file: string): Promise<number> {
  const input = await openInput({ input: file });
  let rows = 0;
  for await (const _ of input.rows({ shardSize: 100 })) rows++;
  return rows;
}

test("truncated or bit-flipped parquet input: rows, or an InputError naming the file", async () => {
  let n = 0;
  await fc.assert(
    fc.asyncProperty(mutation, async (m) => {
      const bytes = flipBits(ORIGINAL.subarray(0, Math.floor(m.truncate * ORIGINAL.length)), m.bits);
      const file = path.join(dir, `${n++}.parquet`);
      fs.writeFileSync(file, bytes);
      try {
        const rows = await withinTime(countRows(file), 15_000, file);
        expect(rows).toBeLessThanOrEqual(1000);
      } catch (error) {
        if (error instanceof HangError) throw error;
        expect(error).toBeInstanceOf(InputError);
        expect((error as Error).message).toContain(file);
      }
    }),
    { seed: FUZZ_SEED, numRuns: fuzzRuns() },
  );
});
