import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fixturePath } from "@laion/test-servers";
import { afterAll, describe, expect, test } from "vitest";
import { LocalCaptionedImages } from "../../src/index.js";
import { collect, tempDir } from "./helpers.js";

const tmp = tempDir();
afterAll(tmp.cleanup);
const at = (name: string) => path.join(tmp.dir, name);
const imageRoot = fixturePath("images");

function captionsFile(name: string, value: unknown): string {
  writeFileSync(at(name), JSON.stringify(value));
  return at(name);
}

describe("LocalCaptionedImages", () => {
  test("a list of { image, caption } gives webdataset-shaped samples with the image bytes", async () => {
    const captions = captionsFile("list.json", [
      { image: "originals/123_456.jpg", caption: "a small test image" },
      { image: "img2dataset-reference/original.png", caption: "සිංහල ශීර්ෂ පාඨය" },
    ]);
    const samples = await collect(LocalCaptionedImages({ captions, imageRoot }));
    expect(samples.map((s) => s.__key__)).toEqual(["originals/123_456", "img2dataset-reference/original"]);
    expect(
      Buffer.from(samples[0]?.jpg as Uint8Array).equals(
        readFileSync(fixturePath("images/originals/123_456.jpg")),
      ),
    ).toBe(true);
    expect(samples[1]?.png).toBeInstanceOf(Uint8Array);
    expect(samples[1]?.txt).toBe("සිංහල ශීර්ෂ පාඨය");
    expect(samples[0]?.__url__).toBe(fixturePath("images/originals/123_456.jpg"));
  });

  test("a { path: caption } map works the same; imageRoot defaults to the captions file's folder", async () => {
    const captions = path.join(tmp.dir, "map.json");
    writeFileSync(
      captions,
      JSON.stringify({
        [fixturePath("images/originals/208_495.jpg")]: "absolute path",
        "originals/nope.jpg": "x",
      }),
    );
    const samples = await collect(LocalCaptionedImages({ captions }));
    expect(samples).toHaveLength(1);
    expect(samples[0]?.txt).toBe("absolute path");
  });

  test("missing images are skipped, counted and reported by path; strict throws naming the path", async () => {
    const captions = captionsFile("missing.json", {
      "originals/123_456.jpg": "here",
      "originals/missing-1.jpg": "gone",
      "originals/missing-2.jpg": "gone too",
    });
    const reported: string[] = [];
    const dataset = LocalCaptionedImages({ captions, imageRoot, onMissing: (p) => reported.push(p) });
    expect(await collect(dataset)).toHaveLength(1);
    const missing = [
      path.join(imageRoot, "originals/missing-1.jpg"),
      path.join(imageRoot, "originals/missing-2.jpg"),
    ];
    expect(dataset.stats).toEqual({ images: 1, missing: 2, missingPaths: missing });
    expect(reported).toEqual(missing);
    await expect(collect(LocalCaptionedImages({ captions, imageRoot, strict: true }))).rejects.toThrow(
      `missing image ${missing[0]} (listed as "originals/missing-1.jpg" in ${captions})`,
    );
  });

  test("an unknown shape is an error that shows both accepted shapes", async () => {
    const shapes =
      /expected either a list \[\{ "image": "rel\/path.jpg", "caption": "…" \}, …\] or a map \{ "rel\/path.jpg": "caption", … \}/;
    for (const [name, value] of [
      ["list-of-strings.json", ["a.jpg", "b.jpg"]],
      ["wrong-keys.json", [{ file: "a.jpg", text: "x" }]],
      ["nested.json", { "a.jpg": { caption: "x" } }],
      ["number.json", 42],
    ] as const) {
      await expect(
        collect(LocalCaptionedImages({ captions: captionsFile(name, value), imageRoot })),
      ).rejects.toThrow(shapes);
    }
    await expect(
      collect(LocalCaptionedImages({ captions: captionsFile("wrong.json", [{ file: "a.jpg" }]) })),
    ).rejects.toThrow(/wrong\.json: entry 0 is \{"file":"a.jpg"\}/);
  });
});
