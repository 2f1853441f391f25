import { expect, test } from "vitest";
import { writeFiltered } from "../src/write-filtered.js";
import { readAll, tempDir } from "./helpers.js";

// the global object (this package's lib has no WebAssembly types)
const wasm = (globalThis as unknown as { WebAssembly: { Module: new (bytes: Uint8Array) => object } })
  .WebAssembly;

/** Counts the wasm modules compiled while `run` runs (WebAssembly.Module wrapped, then restored). */
async function wasmCompiles(run: () => Promise<unknown>): Promise<number> {
  const original = wasm.Module;
  let compiled = 0;
  wasm.Module = new Proxy(original, {
    construct(target, args) {
      compiled++;
      return Reflect.construct(target, args);
    },
  });
  try {
    await run();
  } finally {
    wasm.Module = original;
  }
  return compiled;
}

async function* one<T>(batch: T) {
  yield batch;
}

const rows = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({
    URL: `https://e.com/${tag}/${i}.jpg`,
    TEXT: `a caption ${i} `.repeat(8),
  }));

test("output pages are snappy-compressed by one wasm instance per process, not one per file or page", async () => {
  const dir = tempDir();
  const write = (name: string) =>
    writeFiltered({ rows: one(rows(3_000, name)), outPath: `${dir}/${name}.parquet`, rowGroupSize: 1_000 });
  // the first write may make the instance (the module is compiled lazily)
  expect(await wasmCompiles(() => write("first"))).toBeLessThanOrEqual(1);
  // later files, each of 3 row groups × 2 string columns of compressed pages, compile nothing
  expect(await wasmCompiles(() => Promise.all([write("second"), write("third")]))).toBe(0);
  const back = await readAll(`${dir}/third.parquet`);
  expect(back).toHaveLength(3_000);
  expect(back[2_999]).toEqual(rows(3_000, "third")[2_999]);
});
