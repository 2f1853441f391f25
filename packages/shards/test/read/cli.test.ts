import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { runCommand } from "@laion/cli-kit";
import { runCaptured, startImageServer } from "@laion/test-servers";
import { describe, expect, test } from "vitest";
import { parseByteSize, shardsCommand } from "../../src/read/command.js";
import { shard } from "./helpers.js";

/** The bin run in-process: stdout, stderr and the exit code it set. */
function run(...args: string[]): Promise<{ out: string; err: string; code: number }> {
  return runCaptured((argv, io) => runCommand(shardsCommand, argv, io), args);
}

describe("laion-shards CLI", () => {
  test("ls prints one line per sample: key then ext:bytes", async () => {
    const { out, code } = await run("ls", shard("sample.tgz"));
    expect(code).toBe(0);
    const lines = out.trimEnd().split("\n");
    expect(lines).toHaveLength(90);
    expect(lines[0]).toBe("10\tcls:1 png:306");
  });

  test("ls --json --limit prints JSON lines", async () => {
    const { out } = await run("ls", "--json", "--limit", "2", shard("compressed.tar"));
    expect(
      out
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { __key__: "compressed/0001", __url__: shard("compressed.tar"), members: { txt: 6 } },
      { __key__: "compressed/0002", __url__: shard("compressed.tar"), members: { txt: 6 } },
    ]);
  });

  test("stats counts shards, samples, bytes and extensions", async () => {
    const { out, code } = await run("stats", "--json", shard("{sample.tgz,mpdata.tar}"));
    expect(code).toBe(0);
    const stats = JSON.parse(out);
    expect(stats).toMatchObject({ shards: 2, samples: 190, errors: [] });
    expect(stats.extensions.png.count).toBe(90);
    expect(stats.extensions.cls).toEqual({ count: 90, bytes: 90 });
    expect(stats.extensions.mp).toEqual({ count: 100, bytes: 872 });
  });

  test("stats lists unreadable shards and fails with exit code 1", async () => {
    const missing = shard("missing.tar");
    const { out, err, code } = await run("stats", shard("mpdata.tar"), missing);
    expect(out).toContain("samples  100");
    expect(out).toContain(`errors   1\n  ${missing}: cannot open: ENOENT`);
    expect(err).toContain("error: 1 shard(s) could not be read completely");
    expect(code).toBe(1);
  });

  test("a bad flag value names the flag", async () => {
    const { err, code } = await run("ls", "--limit", "0", shard("mpdata.tar"));
    expect(code).toBe(1);
    expect(err).toContain("--limit must be an integer >= 1");
  });

  test("stats --max-member-bytes skips an oversized member by name and exits 1; --timeout is checked", async () => {
    const { out, code } = await run("stats", "--max-member-bytes", "300", shard("sample.tgz"));
    expect(code).toBe(1);
    expect(out).toMatch(/member 10\.png\): member is 306 bytes, over max-member-bytes \(300\); skipped/);
    const bad = await run("ls", "--timeout", "0", shard("sample.tgz"));
    expect(bad.err).toMatch(/--timeout must be a number >= 0.001, got "0"/);
  });

  test("--cache-dir reads an http shard once over two runs; --cache-limit takes sizes and names the flag", async () => {
    const server = await startImageServer();
    const cacheDir = mkdtempSync(path.join(tmpdir(), "cli-cache-"));
    try {
      const url = `${server.url}/files/webdataset/mpdata.tar`;
      for (let i = 0; i < 2; i++) {
        const { out, code } = await run("ls", "--cache-dir", cacheDir, "--cache-limit", "20M", url);
        expect(code).toBe(0);
        expect(out.trimEnd().split("\n")).toHaveLength(100);
      }
      expect(server.requests.filter((r) => r.path.endsWith("/mpdata.tar"))).toHaveLength(1);
      expect(readdirSync(cacheDir)).toHaveLength(1);
      const bad = await run("ls", "--cache-dir", cacheDir, "--cache-limit", "lots", url);
      expect(bad.err).toMatch(
        /--cache-limit must be a size such as 500M, 20G or 1.5TiB \(or bytes\), got "lots"/,
      );
      expect(parseByteSize("--cache-limit", "1.5KiB")).toBe(1536);
      expect(parseByteSize("--cache-limit", "20G")).toBe(20e9);
    } finally {
      await server.close();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});
