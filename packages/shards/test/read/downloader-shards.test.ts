import { readFileSync } from "node:fs";
import path from "node:path";
import { fixturePath } from "@laion/test-servers";
import { afterAll, expect, test } from "vitest";
import { asSampleMeta, createWebDatasetWriter, localFolderStorage, WebDataset } from "../../src/index.js";
import { collect, tempDir } from "./helpers.js";

const tmp = tempDir();
afterAll(tmp.cleanup);

test("shards written by our downloader's webdataset writer read back: keys, captions, metadata, pixels", async () => {
  const images = ["123_456.jpg", "208_495.jpg", "321_421.jpg"];
  const writer = await createWebDatasetWriter({
    storage: localFolderStorage(tmp.dir),
    name: "00000",
    encodeFormat: "jpg",
    saveCaption: true,
    additionalColumns: [],
  });
  for (const [i, name] of images.entries()) {
    const [w, h] = name.replace(".jpg", "").split("_").map(Number);
    await writer.write({
      meta: {
        caption: `ශ්‍රී ලංකාව ${i}`,
        url: `http://example.test/${name}`,
        key: `00000000${i}`,
        status: "success",
        error_message: null,
        width: w ?? null,
        height: h ?? null,
        original_width: w ?? null,
        original_height: h ?? null,
        sha256: null,
      },
      caption: `ශ්‍රී ලංකාව ${i}`,
      image: readFileSync(fixturePath("images/originals", name)),
    });
  }
  await writer.close({
    count: 3,
    successes: 3,
    failed_to_download: 0,
    failed_to_resize: 0,
    duration: 0,
    start_time: 0,
    end_time: 0,
    status_dict: { success: 3 },
  });

  // typed members, no casts: raw jpg bytes, the caption as text, the metadata as SampleMeta
  const raw = await collect(
    WebDataset(path.join(tmp.dir, "{00000..00000}.tar"), {
      decode: { txt: true, json: asSampleMeta },
      members: ["jpg", "txt", "json"],
    }),
  );
  expect(raw.map((s) => s.__key__)).toEqual(["000000000", "000000001", "000000002"]);
  expect(raw.map((s) => s.json.key)).toEqual(["000000000", "000000001", "000000002"]);
  expect(raw.map((s) => s.json.status)).toEqual(["success", "success", "success"]);
  expect(raw.map((s) => s.txt)).toEqual(images.map((_, i) => `ශ්‍රී ලංකාව ${i}`));
  expect(Buffer.from(raw[1]!.jpg).equals(readFileSync(fixturePath("images/originals", images[1]!)))).toBe(
    true,
  );

  const decoded = await collect(WebDataset(tmp.dir, { decode: true, members: ["jpg", "json"] }));
  for (const [i, sample] of decoded.entries()) {
    expect(sample.txt).toBe(`ශ්‍රී ලංකාව ${i}`);
    expect(sample.json).toMatchObject({ url: `http://example.test/${images[i]}` });
    expect(`${sample.jpg.width}_${sample.jpg.height}.jpg`).toBe(images[i]);
  }
});
