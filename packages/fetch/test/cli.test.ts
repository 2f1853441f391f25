import fs from "node:fs";
import path from "node:path";
import { fixturePath, startHubServer } from "@laion/test-servers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { main } from "../src/command.js";
import { readAll, tempDir } from "./helpers.js";

const TOKEN = "hf_cliSecretTokenValue123456";
const WRONG = "hf_wrongSecretTokenValue987";

function sink() {
  const s = {
    text: "",
    isTTY: false,
    write(c: string) {
      s.text += c;
      return true;
    },
  };
  return s;
}

async function run(argv: string[], env: Record<string, string> = {}) {
  const stdout = sink();
  const stderr = sink();
  let code = 0;
  await main(argv, {
    env,
    stdout: stdout as unknown as NodeJS.WritableStream,
    stderr: stderr as unknown as NodeJS.WritableStream,
    setExitCode: (c) => {
      code = c;
    },
  });
  return { code, out: stdout.text, err: stderr.text };
}

let hub: Awaited<ReturnType<typeof startHubServer>>;
beforeAll(async () => {
  hub = await startHubServer({
    token: TOKEN,
    datasets: {
      "laion/gated": {
        gated: true,
        files: { "data/train-0.parquet": fixturePath("laion/test_1000.parquet") },
      },
      "laion/open": { files: { "part-0.parquet": fixturePath("laion/test_1000.parquet") } },
    },
  });
});
afterAll(() => hub?.close());

describe("fetch-laion-subset CLI", () => {
  test("HF_TOKEN reaches the hub; the token appears in no output or progress line", async () => {
    const out = tempDir();
    const r = await run(
      ["--hf-dataset", "laion/gated", "--hub-url", hub.url, "--max-samples", "25", "--out-dir", out],
      {
        HF_TOKEN: TOKEN,
      },
    );
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(path.join(out, "filtered.parquet"));
    expect(r.err).toMatch(/"event":"done"/);
    expect((await readAll(path.join(out, "filtered.parquet"))).length).toBe(25);
    const stats = fs.readFileSync(path.join(out, "fetch_stats.json"), "utf8");
    for (const text of [r.out, r.err, stats]) expect(text).not.toContain(TOKEN);
  });

  test("a rejected token gives the accept-the-terms message without echoing the token", async () => {
    const out = tempDir();
    const r = await run([
      "--hf-dataset",
      "laion/gated",
      "--hub-url",
      hub.url,
      "--hf-token",
      WRONG,
      "--out-dir",
      out,
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: .*accept the terms.*HF_TOKEN/m);
    expect(r.err).not.toContain(WRONG);
    expect(fs.existsSync(path.join(out, "filtered.parquet"))).toBe(false);
  });

  test("an HTTP error on a resolve URL names the URL, never the token", async () => {
    const url = hub.resolveUrl("laion/gated", "data/missing.parquet");
    const r = await run(["--input", url, "--hub-url", hub.url, "--hf-token", TOKEN, "--out-dir", tempDir()]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`error: ${url}: HTTP 404`);
    expect(r.err).not.toContain(TOKEN);
  });

  test("the token is sent to the hub only, never to another host", async () => {
    const url = hub.resolveUrl("laion/open", "part-0.parquet");
    const before = hub.requests.length;
    const r = await run(
      ["--input", url, "--hub-url", "https://huggingface.co", "--max-samples", "5", "--out-dir", tempDir()],
      {
        HF_TOKEN: TOKEN,
      },
    );
    expect(r.err).not.toMatch(/^error:/m);
    expect(r.code).toBe(0);
    const sent = hub.requests.slice(before).filter((q) => q.path.includes("/resolve/"));
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.every((q) => !q.authorization)).toBe(true);
  });

  test("bad flag values name the flag", async () => {
    const r = await run(["--input", "x.parquet", "--max-samples", "-3"]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/--max-samples must be an integer >= 1, got "-3"/);
    const s = await run(["--subset", "laion2B-en", "--num-parts", "500", "--out-dir", tempDir()]);
    expect(s.err).toMatch(/error: --num-parts 500 is beyond what exists: laion2B-en has 128 part files/);
  });
});
