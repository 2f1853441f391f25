import { gunzipSync } from "node:zlib";
import { describe, expect, test } from "vitest";
import { type RawSample, WebDataset } from "../../src/index.js";
import { collect, extractWithSystemTar, shard } from "./helpers.js";

/** The samples a tar should give, computed from an independent extraction with the system tar. */
function expectedSamples(tarFile: string): Map<string, Record<string, Buffer>> {
  const samples = new Map<string, Record<string, Buffer>>();
  for (const [name, bytes] of extractWithSystemTar(tarFile)) {
    const m = /^((?:.*\/|)[^.]+)\.(.*)$/.exec(name);
    if (!m) continue;
    let ext = (m[2] as string).toLowerCase();
    let data = bytes;
    if (ext.endsWith(".gz")) {
      ext = ext.slice(0, -3);
      data = gunzipSync(bytes);
    }
    const sample = samples.get(m[1] as string) ?? {};
    sample[ext] = data;
    samples.set(m[1] as string, sample);
  }
  return samples;
}

function expectSameSamples(actual: RawSample[], tarFile: string): void {
  const expected = expectedSamples(tarFile);
  expect(actual.length).toBe(expected.size);
  for (const sample of actual) {
    const want = expected.get(sample.__key__);
    expect(want, `unexpected key ${sample.__key__}`).toBeDefined();
    const { __key__, __url__, ...members } = sample;
    expect(Object.keys(members).sort()).toEqual(Object.keys(want ?? {}).sort());
    for (const [ext, bytes] of Object.entries(members)) {
      expect(Buffer.from(bytes as Uint8Array).equals(want?.[ext] as Buffer), `${__key__}.${ext}`).toBe(true);
    }
  }
}

describe("WebDataset on the real webdataset test shards", () => {
  test("tendata.tar: 100 samples with a .ten member, keys in tar order", async () => {
    const samples = await collect(WebDataset(shard("tendata.tar")));
    expect(samples.map((s) => s.__key__)).toEqual(
      Array.from({ length: 100 }, (_, i) => String(i).padStart(6, "0")),
    );
    expect(samples.every((s) => s.__url__ === shard("tendata.tar"))).toBe(true);
    expectSameSamples(samples, shard("tendata.tar"));
  });

  test("mpdata.tar: 100 samples with a .mp member", async () => {
    const samples = await collect(WebDataset(shard("mpdata.tar")));
    expect(samples).toHaveLength(100);
    expect(Object.keys(samples[0] ?? {}).sort()).toEqual(["__key__", "__url__", "mp"]);
    expectSameSamples(samples, shard("mpdata.tar"));
  });

  test("sample.tgz (gzipped): 90 samples of png + cls", async () => {
    const samples = await collect(WebDataset(shard("sample.tgz")));
    expect(samples).toHaveLength(90);
    expect(samples.every((s) => s.png instanceof Uint8Array && s.cls instanceof Uint8Array)).toBe(true);
    expectSameSamples(samples, shard("sample.tgz"));
  });

  test("compressed.tar: the directory entry is skipped, keys keep the directory, .txt.gz members are gunzipped to txt", async () => {
    const samples = await collect(WebDataset(shard("compressed.tar")));
    expect(samples.map((s) => s.__key__)).toEqual(["compressed/0001", "compressed/0002", "compressed/0003"]);
    expect(Object.keys(samples[0] ?? {}).sort()).toEqual(["__key__", "__url__", "txt"]);
    expectSameSamples(samples, shard("compressed.tar"));
  });

  test("testgz.tar: 1000 gzip members decoded", async () => {
    const samples = await collect(WebDataset(shard("testgz.tar")));
    expect(samples).toHaveLength(1000);
    expectSameSamples(samples, shard("testgz.tar"));
  });

  test("gunzipMembers: false keeps the compressed member under its full extension", async () => {
    const [first] = await collect(WebDataset(shard("compressed.tar"), { gunzipMembers: false }), 1);
    expect(Object.keys(first ?? {})).toContain("txt.gz");
  });

  test("a folder, a glob, a brace list and an array read the same shards in sorted order", async () => {
    const keysOf = async (urls: string | string[]) =>
      (await collect(WebDataset(urls))).map((s) => `${s.__url__.split("/").pop()}:${s.__key__}`);
    const folder = await keysOf(shard(""));
    const glob = await keysOf(shard("*.t*"));
    const list = await keysOf(shard("{compressed.tar,mpdata.tar,sample.tgz,tendata.tar,testgz.tar}"));
    expect(folder).toHaveLength(3 + 100 + 90 + 100 + 1000);
    expect(glob).toEqual(folder);
    expect(list).toEqual(folder);
    expect(await keysOf(["mpdata.tar", "tendata.tar"].map(shard))).toEqual(
      folder.filter((k) => k.startsWith("mpdata") || k.startsWith("tendata")),
    );
  });
});
