import fs from "node:fs";
import path from "node:path";
import { fixturePath } from "@laion/test-servers";
import sharp from "sharp";
import { describe, expect, test } from "vitest";
import { RESIZE_MODES, type ResizeMode, resizeImage, roundHalfEven } from "../../src/download/index.js";
import { headerSize } from "../../src/download/resize.js";

const ORIGINALS = fixturePath("images/originals");
const originals = fs
  .readdirSync(ORIGINALS)
  .filter((f) => /^\d+_\d+\.jpg$/.test(f))
  .sort();
const MODES = Object.keys(RESIZE_MODES) as ResizeMode[];

/** Expected output size of img2dataset's resizer for a W×H input at size S (the rules from DESIGN.md). */
function expected(mode: ResizeMode, w: number, h: number, s: number, onlyIfBigger = false): [number, number] {
  const short = Math.min(w, h);
  const long = Math.max(w, h);
  switch (mode) {
    case "no":
      return [w, h];
    case "border":
      return onlyIfBigger && long <= s ? [w, h] : [s, s];
    case "center_crop":
      return onlyIfBigger && short <= s ? [w, h] : [s, s];
    case "keep_ratio":
      if (onlyIfBigger && short <= s) return [w, h];
      return w <= h ? [s, roundHalfEven((h * s) / w)] : [roundHalfEven((w * s) / h), s];
    case "keep_ratio_largest":
      if (onlyIfBigger && long <= s) return [w, h];
      return w >= h ? [s, roundHalfEven((h * s) / w)] : [roundHalfEven((w * s) / h), s];
  }
}

describe("resizeImage geometry on every fixture image, in every mode", () => {
  test("there are originals to test", () => expect(originals.length).toBeGreaterThanOrEqual(7));
  for (const file of originals) {
    const [w, h] = file.replace(".jpg", "").split("_").map(Number) as [number, number];
    for (const mode of MODES) {
      for (const [size, onlyIfBigger] of [
        [256, false],
        [300, true],
      ] as const) {
        test(`${file} ${mode} size ${size}${onlyIfBigger ? " only-if-bigger" : ""}`, async () => {
          const bytes = fs.readFileSync(path.join(ORIGINALS, file));
          const r = await resizeImage(bytes, {
            imageSize: size,
            resizeMode: mode,
            resizeOnlyIfBigger: onlyIfBigger,
          });
          if (!r.ok) throw new Error(r.error);
          const [ew, eh] = expected(mode, w, h, size, onlyIfBigger);
          expect([r.width, r.height, r.originalWidth, r.originalHeight]).toEqual([ew, eh, w, h]);
          const meta = await sharp(r.bytes).metadata();
          expect([meta.format, meta.width, meta.height, meta.space, meta.channels]).toEqual([
            "jpeg",
            ew,
            eh,
            "srgb",
            3,
          ]);
        });
      }
    }
  }
});

describe("img2dataset's own outputs for original.png at size 600", () => {
  const ref = fixturePath("images/img2dataset-reference");
  for (const mode of MODES) {
    test(mode, async () => {
      const r = await resizeImage(fs.readFileSync(path.join(ref, "original.png")), {
        imageSize: 600,
        resizeMode: mode,
      });
      if (!r.ok) throw new Error(r.error);
      const theirs = await sharp(path.join(ref, `resize_${mode}.jpg`)).metadata();
      expect([r.width, r.height]).toEqual([theirs.width, theirs.height]);
    });
  }
});

describe("resizeImage pixels and encodings", () => {
  test("border pads with white, center_crop keeps the centre", async () => {
    const bytes = fs.readFileSync(path.join(ORIGINALS, "456_123.jpg"));
    const r = await resizeImage(bytes, { imageSize: 100, resizeMode: "border", encodeFormat: "png" });
    if (!r.ok) throw new Error(r.error);
    const { data, info } = await sharp(r.bytes).raw().toBuffer({ resolveWithObject: true });
    // 456×123 → 100×27 centred: rows 0..35 are padding
    expect(Array.from(data.subarray(0, 3))).toEqual([255, 255, 255]);
    expect(info.width * info.height).toBe(100 * 100);
  });

  test("alpha is flattened on white and grey becomes sRGB", async () => {
    const transparent = await sharp({
      create: { width: 40, height: 30, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
    })
      .png()
      .toBuffer();
    const r = await resizeImage(transparent, { imageSize: 20, resizeMode: "no", encodeFormat: "png" });
    if (!r.ok) throw new Error(r.error);
    const { data, info } = await sharp(r.bytes).raw().toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(3);
    expect(Array.from(data.subarray(0, 3))).toEqual([255, 255, 255]);

    const grey = await sharp({ create: { width: 30, height: 30, channels: 3, background: "#808080" } })
      .toColourspace("b-w")
      .jpeg()
      .toBuffer();
    expect((await sharp(grey).metadata()).channels).toBe(1);
    const g = await resizeImage(grey, { imageSize: 16 });
    if (!g.ok) throw new Error(g.error);
    expect((await sharp(g.bytes).metadata()).channels).toBe(3);
  });

  test("CMYK JPEG becomes sRGB", async () => {
    const cmyk = await sharp(fs.readFileSync(path.join(ORIGINALS, "321_421.jpg")))
      .toColourspace("cmyk")
      .jpeg()
      .toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe("cmyk");
    const r = await resizeImage(cmyk, { imageSize: 64 });
    if (!r.ok) throw new Error(r.error);
    const meta = await sharp(r.bytes).metadata();
    expect([meta.space, meta.channels]).toEqual(["srgb", 3]);
  });

  test("EXIF orientation is applied: a 6-rotated 40×20 image comes out 20×40", async () => {
    const raw = await sharp({ create: { width: 40, height: 20, channels: 3, background: "#336699" } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const r = await resizeImage(raw, { imageSize: 10, resizeMode: "keep_ratio" });
    if (!r.ok) throw new Error(r.error);
    expect([r.originalWidth, r.originalHeight, r.width, r.height]).toEqual([20, 40, 10, 20]);
  });

  test("webp and png encodings with quality", async () => {
    const bytes = fs.readFileSync(path.join(ORIGINALS, "389_535.jpg"));
    for (const [encodeFormat, encodeQuality, format] of [
      ["webp", 80, "webp"],
      ["png", 3, "png"],
    ] as const) {
      const r = await resizeImage(bytes, { imageSize: 64, encodeFormat, encodeQuality });
      if (!r.ok) throw new Error(r.error);
      expect((await sharp(r.bytes).metadata()).format).toBe(format);
    }
  });
});

describe("resizeImage errors are values", () => {
  const bytes = fs.readFileSync(path.join(ORIGINALS, "456_123.jpg"));
  test.each([
    ["not an image", Buffer.from("<html>nope</html>"), {}, /unsupported image format/],
    ["empty", Buffer.alloc(0), {}, /^empty image$/],
    ["too small", bytes, { minImageSize: 200 }, /^image too small$/],
    ["aspect ratio", bytes, { maxAspectRatio: 3 }, /^aspect ratio too large$/],
    ["pixel limit", bytes, { limitInputPixels: 1000 }, /^image area too large/],
  ])("%s", async (_name, input, params, error) => {
    const r = await resizeImage(input, params);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(error);
  });
});

describe("headerSize (image-size for JPEGs) agrees with sharp's metadata", () => {
  const sharpSize = async (bytes: Uint8Array) => {
    const m = await sharp(bytes).metadata();
    return { width: m.width, height: m.height, orientation: m.orientation ?? 1, hasAlpha: m.hasAlpha };
  };

  test("every original, and EXIF orientations 1–8, progressive and CMYK JPEGs", async () => {
    const inputs: Buffer[] = originals.map((f) => fs.readFileSync(path.join(ORIGINALS, f)));
    const base = sharp({ create: { width: 37, height: 21, channels: 3, background: "#808000" } });
    for (let orientation = 1; orientation <= 8; orientation++)
      inputs.push(await base.clone().jpeg().withMetadata({ orientation }).toBuffer());
    inputs.push(await base.clone().jpeg({ progressive: true }).toBuffer());
    inputs.push(await base.clone().toColourspace("cmyk").jpeg().toBuffer());
    for (const bytes of inputs) expect(await headerSize(bytes)).toEqual(await sharpSize(bytes));
  });

  test("a PNG goes to sharp; a JPEG cut inside its header gets sharp's error", async () => {
    const png = await sharp({ create: { width: 5, height: 3, channels: 4, background: "#fff0" } })
      .png()
      .toBuffer();
    expect(await headerSize(png)).toMatchObject({ width: 5, height: 3, hasAlpha: true });
    const cut = fs.readFileSync(path.join(ORIGINALS, "456_123.jpg")).subarray(0, 40);
    await expect(headerSize(cut)).rejects.toThrow();
    expect(await resizeImage(cut)).toMatchObject({ ok: false });
  });
});
