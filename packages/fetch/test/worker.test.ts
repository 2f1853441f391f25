import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { fixturePath } from "@laion/test-servers";
import { beforeAll, describe, expect, test } from "vitest";
import { deserializeError, semiSpaceCapped, serializeError } from "../src/worker-relay.js";
import { readAll, tempDir } from "./helpers.js";

// The worker thread runs the built dist/fetch-worker.js (node 20 cannot start a worker on a .ts file),
// so these tests call the built package, as the app does; from src, fetchLaionSubset runs in-process.
type Api = typeof import("../src/index.js");
const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist/index.js");
let api: Api;
beforeAll(async () => {
  if (!fs.existsSync(dist))
    throw new Error(`${dist} is missing: build first (npx nx run @laion/fetch:build)`);
  api = (await import(pathToFileURL(dist).href)) as Api;
});

const T1000 = fixturePath("laion/test_1000.parquet");

describe("fetchLaionSubset in a worker thread (the built package's default)", () => {
  test("writes the same rows as in-process and relays progress and log messages", async () => {
    const [a, b] = [tempDir(), tempDir()];
    const progress: number[] = [];
    const logs: string[] = [];
    const inWorker = await api.fetchLaionSubset({
      input: [T1000],
      outDir: a,
      minCaptionLen: 10,
      onProgress: (s) => progress.push(s.rows_read),
    });
    const here = await api.fetchLaionSubset({
      input: [T1000],
      outDir: b,
      minCaptionLen: 10,
      inProcess: true,
    });
    expect({ ...inWorker.stats, seconds: 0 }).toEqual({ ...here.stats, seconds: 0 });
    expect(inWorker.outPath).toBe(path.join(a, api.OUTPUT_FILE));
    expect(await readAll(inWorker.outPath)).toEqual(await readAll(here.outPath));
    expect(progress.at(-1)).toBe(1000);
    // a finished result: the notice comes back through onLog
    await api.fetchLaionSubset({
      input: [T1000],
      outDir: a,
      minCaptionLen: 10,
      resume: true,
      onLog: (m) => logs.push(m),
    });
    expect(logs.join("\n")).toMatch(/already complete: .*filtered\.parquet/);
  });

  test("an error in the worker is re-thrown in the caller with its class and message (file named)", async () => {
    const out = tempDir();
    const bad = path.join(out, "not-parquet.parquet");
    fs.writeFileSync(bad, "this is not parquet");
    const err = await api.fetchLaionSubset({ input: [bad], outDir: path.join(out, "o") }).catch((e) => e);
    const here = await api
      .fetchLaionSubset({ input: [bad], outDir: path.join(out, "p"), inProcess: true })
      .catch((e) => e);
    expect(err).toBeInstanceOf(api.FetchError);
    expect(err.message).toBe(here.message);
    expect(err.message).toContain(bad);
  });

  test("a changed request is refused with the same OutputChangedError, the old result kept", async () => {
    const out = tempDir();
    await api.fetchLaionSubset({ input: [T1000], outDir: out, minCaptionLen: 10 });
    const before = fs.readFileSync(path.join(out, api.OUTPUT_FILE));
    const err = await api
      .fetchLaionSubset({ input: [T1000], outDir: out, minCaptionLen: 20 })
      .catch((e) => e);
    expect(err.name).toBe("OutputChangedError");
    expect(err.message).toMatch(/--min-caption-len: 10 → 20/);
    expect(err.exitCode).toBe(1);
    expect(fs.readFileSync(path.join(out, api.OUTPUT_FILE)).equals(before)).toBe(true);
  });

  test("a callback that throws stops the run with its error", async () => {
    const err = await api
      .fetchLaionSubset({
        input: [T1000],
        outDir: tempDir(),
        onProgress: () => {
          throw new Error("stop here");
        },
      })
      .catch((e) => e);
    expect(err.message).toBe("stop here");
  });
});

test("serialized errors keep their class, fields and message; unknown classes become Error", () => {
  const back = deserializeError(serializeError(Object.assign(new TypeError("odd"), { code: "E_ODD" })));
  expect(back).toBeInstanceOf(Error);
  expect(back.name).toBe("TypeError");
  expect(back.message).toBe("odd");
  expect((back as Error & { code?: string }).code).toBe("E_ODD");
  expect(serializeError("plain").message).toBe("plain");
});

test("node started with --max-semi-space-size (the bin) keeps the fetch in-process", () => {
  const before = process.env["NODE_OPTIONS"];
  try {
    process.env["NODE_OPTIONS"] = "";
    expect(semiSpaceCapped()).toBe(process.execArgv.some((a) => a.includes("max-semi-space-size")));
    process.env["NODE_OPTIONS"] = "--max-semi-space-size=8";
    expect(semiSpaceCapped()).toBe(true);
  } finally {
    if (before === undefined) delete process.env["NODE_OPTIONS"];
    else process.env["NODE_OPTIONS"] = before;
  }
});
