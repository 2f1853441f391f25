import { afterEach, describe, expect, test, vi } from "vitest";
import { flipBits, fuzzRuns, HangError, serve, withinTime } from "../src/index.js";

describe("the fuzz suites' shared pieces", () => {
  afterEach(() => vi.unstubAllEnvs());

  test("withinTime: the work's result, or a HangError naming the input", async () => {
    await expect(withinTime(Promise.resolve(3), 1000, "a.tar")).resolves.toBe(3);
    const err = await withinTime(new Promise(() => {}), 20, "b.parquet").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HangError);
    expect((err as Error).message).toBe("hang: b.parquet not read within 20 ms");
    await expect(withinTime(Promise.reject(new Error("bad footer")), 1000, "c")).rejects.toThrow(
      "bad footer",
    );
  });

  test("fuzzRuns: FUZZ_RUNS when set, the suite's fallback otherwise; a bad value is named", () => {
    vi.stubEnv("FUZZ_RUNS", "");
    expect(fuzzRuns()).toBe(40);
    expect(fuzzRuns(200)).toBe(200);
    vi.stubEnv("FUZZ_RUNS", "1000");
    expect(fuzzRuns(200)).toBe(1000);
    vi.stubEnv("FUZZ_RUNS", "lots");
    expect(() => fuzzRuns()).toThrow('FUZZ_RUNS must be a whole number ≥ 1, got "lots"');
  });
});

test("flipBits flips each bit modulo the span, in a copy", () => {
  const bytes = new Uint8Array([0, 0, 0, 0]);
  expect([...flipBits(bytes, [0, 9, 33])]).toEqual([3, 2, 0, 0]); // 33 mod 32 = bit 1 of byte 0
  expect([...flipBits(bytes, [0, 8], 2, 2)]).toEqual([0, 0, 1, 1]);
  expect([...flipBits(new Uint8Array(0), [5])]).toEqual([]);
  expect([...bytes]).toEqual([0, 0, 0, 0]);
});

describe("serve", () => {
  test("answers on 127.0.0.1 with the handler; close() ends a response that never finishes", async () => {
    const server = await serve((req, res) => {
      if (req.url === "/stall") return void res.writeHead(200).write("part");
      res.writeHead(200).end("hello");
    });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await (await fetch(`${server.url}/hi`)).text()).toBe("hello");
    const stalled = await fetch(`${server.url}/stall`);
    const body = stalled.text().catch((e: unknown) => e);
    await server.close();
    expect(await body).toBeInstanceOf(Error); // cut, not left hanging
    await expect(fetch(server.url)).rejects.toThrow();
  });
});
