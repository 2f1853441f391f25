import fs from "node:fs";
import path from "node:path";
import { runCommand } from "@laion/cli-kit";
import { type ImageServer, runCaptured, startImageServer } from "@laion/test-servers";
import { afterAll, beforeAll, expect, test } from "vitest";
import { downloadCommand } from "../../src/download/command.js";
import { listDir, readTar, realCaptions, tempDir, writeParquet } from "./helpers.js";

let server: ImageServer;
let work: string;
let input: string;

beforeAll(async () => {
  server = await startImageServer();
  work = tempDir("cli");
  const captions = await realCaptions(6);
  input = writeParquet(path.join(work, "in.parquet"), {
    URL: {
      data: captions.map((_, i) =>
        i === 3 ? `${server.url}/fault/404/a.jpg` : `${server.url}/images/416_264.jpg`,
      ),
      type: "STRING",
    },
    TEXT: { data: captions.map((c) => c.caption), type: "STRING" },
  });
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

async function run(args: string[]) {
  const r = await runCaptured((argv, io) => runCommand(downloadCommand, argv, io), args);
  return { stdout: r.out, stderr: r.err, code: r.code };
}

/** A run that must fail: its stderr, after checking the exit code. */
async function fails(args: string[]): Promise<string> {
  const r = await run(args);
  expect(r.code).toBe(1);
  return r.stderr;
}

test("the img2dataset-style command line: webp, keep_ratio, progress as JSON lines, a summary", async () => {
  const out = path.join(work, "out");
  const { stdout, stderr } = await run([
    "--input",
    input,
    "--output",
    out,
    "--shard-size",
    "4",
    "--image-size",
    "64",
    "--resize-mode",
    "keep_ratio",
    "--encode-format",
    "webp",
    "--encode-quality",
    "80",
    "--allow-address",
    "127.0.0.1",
    "--retries",
    "0",
    "--json",
  ]);
  expect(listDir(out)).toEqual([
    "00000.parquet",
    "00000.tar",
    "00000_stats.json",
    "00001.parquet",
    "00001.tar",
    "00001_stats.json",
    "stats.json",
  ]);
  expect(stdout).toMatch(
    /^6 samples: 5 ok \(83\.3%\), 1 failed to download, 0 failed to resize; 2 shards written/,
  );
  expect(stdout).toMatch(/ {7}1 {2}HTTP 404/);
  const events = stderr
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  expect(events.at(-1)).toMatchObject({ event: "done", label: "images", count: 6, successes: 5 });
  const stats = JSON.parse(fs.readFileSync(path.join(out, "00000_stats.json"), "utf8"));
  expect(stats.count).toBe(4);
  // shard size 4 → one index digit: keys 000000…000003; 000003 is the 404, absent from the tar
  expect((await readTar(path.join(out, "00000.tar"))).map((m) => m.name).sort()).toEqual(
    ["000000", "000001", "000002"].flatMap((k) => [`${k}.json`, `${k}.txt`, `${k}.webp`]),
  );
});

test("flags are checked and name themselves", async () => {
  expect(await fails(["--input", input, "--output", work, "--image-size", "0"])).toMatch(
    /--image-size must be an integer between 1 and 8192, got "0"/,
  );
  expect(await fails(["--input", input, "--output", work, "--image-size", "100000"])).toMatch(
    /--image-size must be an integer between 1 and 8192, got "100000"/,
  );
  expect(await fails(["--input", input, "--output", work, "--allow-address", "10.0.0.0/40"])).toMatch(
    /--allow-address "10.0.0.0\/40" is not an IP address, a CIDR range/,
  );
  expect(await fails(["--input", input, "--output", work, "--resize-mode", "stretch"])).toMatch(
    /Allowed choices are no, border/,
  );
  expect(await fails(["--input", input, "--output", work, "--disallow-robots-header", "maybe"])).toMatch(
    /--disallow-robots-header must be true or false/,
  );
});

test("input errors become one clear line", async () => {
  expect(await fails(["--input", input, "--output", path.join(work, "x"), "--url-col", "link"])).toMatch(
    /^error: .*has no column "link" \(--url-col\); its columns are: "URL", "TEXT"/,
  );
});

test("--allow-private-addresses says on stderr that everything is allowed, metadata included", async () => {
  const { stderr } = await run([
    "--input",
    input,
    "--output",
    path.join(work, "all"),
    "--allow-private-addresses",
    "--retries",
    "0",
    "--json",
  ]);
  expect(stderr.split("\n")[0]).toBe(
    "warning: --allow-private-addresses: every destination is allowed, loopback, private networks and cloud metadata (169.254.169.254) included; use --allow-address <ip|cidr|host> to allow just what you need",
  );
});
