import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { type ShardError, WebDataset } from "../../src/index.js";
import { collect, hasPython, shard, tempDir } from "./helpers.js";

const tmp = tempDir();
afterAll(tmp.cleanup);
const at = (name: string) => path.join(tmp.dir, name);

// tendata.tar: 100 members of 12736 bytes, each taking a 512-byte header + 12800 bytes of data.
const TENDATA_MEMBER = 512 + 12800;

beforeAll(() => {
  const tendata = readFileSync(shard("tendata.tar"));
  // Cut in the middle of member 50's data.
  writeFileSync(at("truncated.tar"), tendata.subarray(0, 50 * TENDATA_MEMBER + 512 + 1000));
  // Cut in the middle of member 50's header.
  writeFileSync(at("truncated-header.tar"), tendata.subarray(0, 50 * TENDATA_MEMBER + 100));
  const tgz = readFileSync(shard("sample.tgz"));
  writeFileSync(at("truncated.tgz"), tgz.subarray(0, Math.floor(tgz.length / 2)));
  writeFileSync(at("not-gzip.tgz"), "this is not gzip data at all, just text\n".repeat(20));
});

function writeTree(root: string, files: Record<string, string>): string[] {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), content);
  }
  return Object.keys(files);
}

describe("tars written by other tools", () => {
  test("GNU tar long names (> 100 chars, ././@LongLink) keep their full path in the key", async () => {
    const dir = `${"a-long-directory-name-".repeat(4)}x/${"nested-".repeat(8)}y`;
    const key = (i: number) => `${dir}/image-${"z".repeat(60)}-${i}`;
    const names = writeTree(at("gnu"), {
      [`${key(1)}.jpg`]: "jpg-1",
      [`${key(1)}.json`]: "json-1",
      [`${key(2)}.JPG`]: "jpg-2",
      [`${key(2)}.meta.json`]: "meta-2",
    });
    execFileSync("tar", ["--format=gnu", "-cf", at("gnu.tar"), "-C", at("gnu"), ...names]);
    expect(readFileSync(at("gnu.tar")).includes("././@LongLink")).toBe(true);
    const samples = await collect(WebDataset(at("gnu.tar")));
    expect(samples.map((s) => s.__key__)).toEqual([key(1), key(2)]);
    expect(Buffer.from(samples[0]?.json as Uint8Array).toString()).toBe("json-1");
    // Extensions are lower-cased; everything after the first dot of the basename is the extension.
    expect(Object.keys(samples[1] ?? {}).sort()).toEqual(["__key__", "__url__", "jpg", "meta.json"]);
  });

  test.skipIf(!hasPython())("Python tarfile PAX format: long and non-ASCII names", async () => {
    const script = `
import io, sys, tarfile
names = sys.argv[2:]
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as tar:
    for name in names:
        data = ("content of " + name).encode("utf-8")
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
`;
    const long = `${"deep/".repeat(30)}sample-${"q".repeat(80)}`;
    const sinhala = "සිංහල/ශ්‍රී-ලංකාව";
    const names = [`${long}.png`, `${long}.txt`, `${sinhala}.jpg`, `${sinhala}.txt`];
    execFileSync("python3", ["-c", script, at("pax.tar"), ...names]);
    expect(readFileSync(at("pax.tar")).includes("PaxHeader")).toBe(true);
    const samples = await collect(WebDataset(at("pax.tar")));
    expect(samples.map((s) => s.__key__)).toEqual([long, sinhala]);
    expect(Buffer.from(samples[1]?.txt as Uint8Array).toString()).toBe(`content of ${sinhala}.txt`);
  });

  test("a tar with two members of the same key and extension is an error naming the member", async () => {
    writeTree(at("dup"), { "a/x.txt": "1", "b/x.txt": "2", "a/x.TXT": "3" });
    execFileSync("tar", ["-cf", at("dup.tar"), "-C", at("dup"), "a/x.txt", "b/x.txt"]);
    // Same basename in different folders is fine (different keys).
    expect((await collect(WebDataset(at("dup.tar")))).map((s) => s.__key__)).toEqual(["a/x", "b/x"]);
    execFileSync("tar", ["-cf", at("dup2.tar"), "-C", at("dup"), "a/x.txt", "a/x.TXT"]);
    await expect(collect(WebDataset(at("dup2.tar")))).rejects.toThrow(
      /dup2\.tar \(member a\/x\.TXT\): duplicate extension "txt"/,
    );
  });
});

describe("error handler", () => {
  test('"raise": a truncated tar throws, naming the shard and the member being read', async () => {
    const seen: string[] = [];
    const read = async () => {
      for await (const s of WebDataset(at("truncated.tar"))) seen.push(s.__key__);
    };
    await expect(read()).rejects.toThrow(`${at("truncated.tar")} (member 000050.ten): truncated tar`);
    // Every sample before the cut was delivered, the last complete one included.
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => String(i).padStart(6, "0")));
  });

  test('"warnAndContinue": warns with the shard and member, keeps the samples before the cut and goes on', async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const samples = await collect(
        WebDataset([at("truncated.tar"), shard("mpdata.tar")], { handler: "warnAndContinue" }),
      );
      expect(samples).toHaveLength(50 + 100);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]?.[0])).toMatch(/truncated\.tar \(member 000050\.ten\): truncated tar/);
    } finally {
      warn.mockRestore();
    }
  });

  test('"ignore": no warning; onError still sees every skipped shard (truncated header, bad gzip, missing file, not gzip)', async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const errors: ShardError[] = [];
    try {
      const urls = [
        at("truncated-header.tar"),
        at("truncated.tgz"),
        at("missing.tar"),
        at("not-gzip.tgz"),
        shard("mpdata.tar"),
      ];
      const samples = await collect(WebDataset(urls, { handler: "ignore", onError: (e) => errors.push(e) }));
      // The header cut leaves sample 000049 possibly incomplete, so it is dropped.
      expect(samples.filter((s) => s.__url__ === urls[0])).toHaveLength(49);
      expect(samples.filter((s) => s.__url__ === shard("mpdata.tar"))).toHaveLength(100);
      expect(warn).not.toHaveBeenCalled();
      expect(errors.map((e) => e.url)).toEqual(urls.slice(0, 4));
      expect(errors[0]?.message).toMatch(/truncated tar \(unexpected end of data\) after member 000049\.ten/);
      expect(errors[1]?.message).toMatch(/truncated\.tgz.*bad gzip data: unexpected end of file/);
      expect(errors[2]?.message).toMatch(/missing\.tar: cannot open: ENOENT/);
      expect(errors[3]?.message).toMatch(/not-gzip\.tgz: bad gzip data: incorrect header check/);
    } finally {
      warn.mockRestore();
    }
  });

  test("a gzipped tar named .tar is detected by its magic bytes", async () => {
    writeFileSync(at("gzipped-but-named.tar"), readFileSync(shard("sample.tgz")));
    expect(await collect(WebDataset(at("gzipped-but-named.tar")))).toHaveLength(90);
  });

  test("a bad option is rejected at once, naming the allowed values", () => {
    expect(() => WebDataset(shard("mpdata.tar"), { handler: "skip" as never })).toThrow(
      'handler must be one of raise, warnAndContinue, ignore, got "skip"',
    );
    expect(() => WebDataset(shard("mpdata.tar"), { shuffleBuffer: -1 })).toThrow(
      /shuffleBuffer must be an integer ≥ 0, got -1/,
    );
    expect(() => WebDataset(shard("mpdata.tar"), { split: { rank: 2, worldSize: 2 } })).toThrow(
      /split.rank must be an integer in \[0, 1\] \(worldSize = 2\), got 2/,
    );
  });
});
