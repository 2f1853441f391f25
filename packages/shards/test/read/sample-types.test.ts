// The sample type follows the reader's options (checked by `tsc`, which typechecks this file), and the
// values at run time are what the type says, on the real webdataset shards and captioned images.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fixturePath } from "@laion/test-servers";
import { afterAll, describe, expect, expectTypeOf, test } from "vitest";
import {
  asSampleMeta,
  type CaptionedImage,
  type DecodeOptions,
  type JsonValue,
  LocalCaptionedImages,
  type MemberValue,
  type RgbImage,
  type SampleMeta,
  type ShardError,
  WebDataset,
} from "../../src/index.js";
import { collect, shard, tarBuffer, tempDir } from "./helpers.js";

const tmp = tempDir();
afterAll(tmp.cleanup);
const at = (name: string) => path.join(tmp.dir, name);

describe("raw samples: every member is bytes", () => {
  test("sample.tgz: png and cls are Uint8Array, the key and url strings", async () => {
    const samples = await collect(WebDataset(shard("sample.tgz")));
    const s = samples[0];
    if (!s) throw new Error("sample.tgz gave no sample");
    expectTypeOf(s.__key__).toEqualTypeOf<string>();
    expectTypeOf(s.__url__).toEqualTypeOf<string>();
    expectTypeOf(s.png).toEqualTypeOf<Uint8Array | undefined>();
    expectTypeOf(s.txt).toEqualTypeOf<Uint8Array | undefined>();
    expectTypeOf(s["seg.png"]).toEqualTypeOf<Uint8Array | undefined>();
    // @ts-expect-error a raw member is not text
    const notText: string | undefined = s.txt;
    void notText;
    expect(samples).toHaveLength(90);
    for (const sample of samples) {
      expect(sample.__url__).toBe(shard("sample.tgz"));
      expect(sample.png).toBeInstanceOf(Uint8Array);
      expect(sample.cls).toBeInstanceOf(Uint8Array);
    }
  });

  test("members: the required extensions are present in the type and checked in every sample", async () => {
    const samples = await collect(WebDataset(shard("sample.tgz"), { members: ["png", "cls"] }));
    expectTypeOf(samples[0]!.png).toEqualTypeOf<Uint8Array>();
    expectTypeOf(samples[0]!.cls).toEqualTypeOf<Uint8Array>();
    expectTypeOf(samples[0]!.jpg).toEqualTypeOf<Uint8Array | undefined>();
    expect(samples.every((s) => s.png.byteLength > 0 && s.cls.byteLength > 0)).toBe(true);
  });

  test("a sample without a required member is an error naming shard, key and member; skipping handlers drop it", async () => {
    const compressed = shard("compressed.tar"); // compressed/000N.txt.gz: txt members only
    await expect(collect(WebDataset(compressed, { members: ["txt", "json"] }))).rejects.toThrow(
      `${compressed} (member compressed/0001.json): sample has no .json member (required by members: ["txt","json"]; it has .txt)`,
    );
    const errors: ShardError[] = [];
    const kept = await collect(
      WebDataset(compressed, { members: ["json"], handler: "ignore", onError: (e) => errors.push(e) }),
    );
    expect(kept).toEqual([]);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.url === compressed && e.member?.endsWith(".json"))).toBe(true);
  });

  test("members must be lower-case extensions (grouping lower-cases them)", () => {
    expect(() => WebDataset(shard("sample.tgz"), { members: ["PNG"] })).toThrow(
      'WebDataset: members must be lower-case extensions such as ["jpg", "txt"] (members are grouped by lower-cased extension), got ["PNG"]',
    );
  });
});

describe("decoded samples: each decoder that is on types its members", () => {
  test("decode: true on sample.tgz: png → RgbImage, cls → number", async () => {
    const [s] = await collect(WebDataset(shard("sample.tgz"), { decode: true, members: ["png", "cls"] }), 1);
    if (!s) throw new Error("sample.tgz gave no sample");
    expectTypeOf(s.png).toEqualTypeOf<RgbImage>();
    expectTypeOf(s.cls).toEqualTypeOf<number>();
    expectTypeOf(s.json).toEqualTypeOf<JsonValue | undefined>();
    expectTypeOf(s.txt).toEqualTypeOf<string | undefined>();
    expect(s.png.data).toHaveLength(s.png.width * s.png.height * 3);
    expect(Number.isInteger(s.cls)).toBe(true);
  });

  test("only the decoders asked for change type; the rest stay bytes", async () => {
    const [s] = await collect(WebDataset(shard("compressed.tar"), { decode: { txt: true } }), 1);
    expectTypeOf(s!.txt).toEqualTypeOf<string | undefined>();
    expectTypeOf(s!.json).toEqualTypeOf<Uint8Array | undefined>();
    expectTypeOf(s!.jpg).toEqualTypeOf<Uint8Array | undefined>();
    expect(typeof s?.txt).toBe("string");
  });

  test("a json decoder function types .json as what it returns, and its errors go through the handler", async () => {
    const meta = {
      url: "http://example.test/a.jpg",
      key: "000000000",
      status: "success",
      error_message: null,
      width: 4,
      height: 2,
      original_width: 8,
      original_height: 4,
      sha256: null,
    };
    writeFileSync(
      at("meta.tar"),
      await tarBuffer([
        { name: "000000000.json", data: JSON.stringify(meta) },
        { name: "000000000.txt", data: "a caption" },
        { name: "000000001.json", data: JSON.stringify({ ...meta, url: 7 }) },
        { name: "000000001.txt", data: "a caption" },
      ]),
    );
    const errors: ShardError[] = [];
    const samples = await collect(
      WebDataset(at("meta.tar"), {
        decode: { txt: true, json: asSampleMeta },
        members: ["json", "txt"],
        handler: "ignore",
        onError: (e) => errors.push(e),
      }),
    );
    expectTypeOf(samples[0]!.json).toEqualTypeOf<SampleMeta>();
    expectTypeOf(samples[0]!.txt).toEqualTypeOf<string>();
    expect(samples.map((s) => s.json.url)).toEqual(["http://example.test/a.jpg"]);
    expect(errors.map((e) => e.message)).toEqual([
      `${at("meta.tar")} (member 000000001.json): cannot decode .json: sample metadata: "url" is 7, expected a string`,
    ]);
  });

  test("types of member names and option shapes", () => {
    expectTypeOf<MemberValue<{ json: true }, "seg.json">>().toEqualTypeOf<JsonValue>();
    expectTypeOf<MemberValue<true, "JPG">>().toEqualTypeOf<RgbImage>();
    expectTypeOf<MemberValue<true, "npy">>().toEqualTypeOf<Uint8Array>();
    expectTypeOf<MemberValue<false, "txt">>().toEqualTypeOf<Uint8Array>();
    // options only known at run time: either
    expectTypeOf<MemberValue<DecodeOptions, "txt">>().toEqualTypeOf<string | Uint8Array>();
    expectTypeOf<MemberValue<DecodeOptions | boolean, "cls">>().toEqualTypeOf<number | Uint8Array>();
  });
});

test("LocalCaptionedImages: the caption is a string, the image bytes", async () => {
  const captions = fixturePath("explicit_media", "captions.json");
  const samples = await collect(LocalCaptionedImages({ captions }));
  expectTypeOf(samples[0]!).toEqualTypeOf<CaptionedImage>();
  expectTypeOf(samples[0]!.txt).toEqualTypeOf<string>();
  expectTypeOf(samples[0]!.jpg).toEqualTypeOf<Uint8Array | undefined>();
  expect(samples.length).toBeGreaterThan(0);
  for (const s of samples) {
    expect(typeof s.txt).toBe("string");
    expect(s.jpg).toBeInstanceOf(Uint8Array);
    expect(s.__url__).toBe(path.join(path.dirname(captions), `${s.__key__}.jpg`));
  }
});
