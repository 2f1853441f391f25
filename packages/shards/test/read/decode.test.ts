import { writeFileSync } from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { afterAll, describe, expect, test } from "vitest";
import { type RgbImage, type ShardError, WebDataset } from "../../src/index.js";
import { collect, shard, tarBuffer, tempDir } from "./helpers.js";

const tmp = tempDir();
afterAll(tmp.cleanup);
const at = (name: string) => path.join(tmp.dir, name);

describe("decode (opt-in)", () => {
  test("raw by default: members stay bytes", async () => {
    const [first] = await collect(WebDataset(shard("sample.tgz")), 1);
    expect(first?.png).toBeInstanceOf(Uint8Array);
    expect(first?.cls).toBeInstanceOf(Uint8Array);
  });

  test("decode: true turns png into RGB pixels (sharp) and cls into a number", async () => {
    const raw = await collect(WebDataset(shard("sample.tgz"), { members: ["png", "cls"] }), 3);
    const decoded = await collect(WebDataset(shard("sample.tgz"), { decode: true, members: ["png"] }), 3);
    for (const [i, sample] of decoded.entries()) {
      const image = sample.png;
      const meta = await sharp(raw[i]!.png).metadata();
      expect([image.width, image.height]).toEqual([meta.width, meta.height]);
      expect(image.data).toHaveLength(meta.width * meta.height * 3);
      expect(sample.cls).toBe(Number(Buffer.from(raw[i]!.cls).toString()));
    }
  });

  test("txt → string, json → object, only the decoders asked for", async () => {
    const pixels = await sharp({
      create: { width: 4, height: 2, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0.5 } },
    })
      .png()
      .toBuffer();
    writeFileSync(
      at("mixed.tar"),
      await tarBuffer([
        { name: "a.txt", data: "ශ්‍රී ලංකාව" },
        { name: "a.json", data: '{"width": 4, "tags": ["x"]}' },
        { name: "a.png", data: pixels },
      ]),
    );
    const [all] = await collect(WebDataset(at("mixed.tar"), { decode: true }));
    expect(all?.txt).toBe("ශ්‍රී ලංකාව");
    expect(all?.json).toEqual({ width: 4, tags: ["x"] });
    const image = all?.png as RgbImage; // no members option: png may be absent in the type
    expect([image.width, image.height, image.data.length]).toEqual([4, 2, 4 * 2 * 3]);
    expect([...image.data.subarray(0, 3)]).toEqual([255, 0, 0]); // alpha removed, red kept
    const [some] = await collect(WebDataset(at("mixed.tar"), { decode: { txt: true } }));
    expect(some?.txt).toBe("ශ්‍රී ලංකාව");
    expect(some?.json).toBeInstanceOf(Uint8Array);
    expect(some?.png).toBeInstanceOf(Uint8Array);
  });

  test("an undecodable member goes through the handler, naming the shard and the sample", async () => {
    writeFileSync(
      at("bad.tar"),
      await tarBuffer([
        { name: "a.jpg", data: "not a jpeg" },
        { name: "b.json", data: "{oops" },
        { name: "c.txt", data: "fine" },
      ]),
    );
    await expect(collect(WebDataset(at("bad.tar"), { decode: true }))).rejects.toThrow(
      `${at("bad.tar")} (member a.jpg): cannot decode .jpg`,
    );
    const errors: ShardError[] = [];
    const samples = await collect(
      WebDataset(at("bad.tar"), { decode: true, handler: "ignore", onError: (e) => errors.push(e) }),
    );
    expect(samples.map((s) => s.txt)).toEqual(["fine"]);
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringContaining("(member a.jpg): cannot decode .jpg"),
      expect.stringContaining("(member b.json): cannot decode .json"),
    ]);
  });
});
