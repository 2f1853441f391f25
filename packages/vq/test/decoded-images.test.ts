import { Random } from "@laion/mixer";
import sharp from "sharp";
import { beforeAll, describe, expect, test } from "vitest";
import { imageBatches } from "../src/data.js";
import { augmentDecoded, DecodedCache, decodedSide, decodeImage } from "../src/decoded-images.js";
import { imageToFloat } from "../src/images.js";
import { resampleWindow } from "../src/resample.js";
import { fixturePhotos } from "./helpers.js";

// Training crops are cut in JS from images sharp decoded once (and kept). They must look like sharp's
// own lanczos3 crops, be the same whether the image came from the cache or not, and the cache must
// stay within its budget.

let photos: { name: string; bytes: Uint8Array }[];
beforeAll(async () => {
  photos = await fixturePhotos();
});

const meanAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs((a[i] as number) - (b[i] as number));
  return s / a.length;
};

describe("resampleWindow", () => {
  test("the whole image at its own size is the image", () => {
    const pixels = Uint8Array.from({ length: 6 * 6 * 3 }, (_, i) => (i * 37) % 256);
    const out = resampleWindow({ pixels, width: 6, height: 6 }, { left: 0, top: 0, width: 6, height: 6 }, 6);
    expect(Array.from(out, (v) => Math.round(v * 255))).toEqual(Array.from(pixels));
  });

  test("a crop of a real photo matches sharp's lanczos3 resize of the same crop", async () => {
    for (const p of photos) {
      const { data, info } = await sharp(p.bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const side = Math.min(info.width, info.height);
      const crop = { left: 3, top: 5, width: Math.floor(side * 0.7), height: Math.floor(side * 0.7) };
      const ours = resampleWindow({ pixels: data, width: info.width, height: info.height }, crop, 32);
      const theirs = await sharp(p.bytes)
        .removeAlpha()
        .extract(crop)
        .resize(32, 32, { fit: "fill", kernel: "lanczos3" })
        .raw()
        .toBuffer();
      // the same filter; libvips rounds in fixed point and treats the edges its own way
      expect(
        meanAbs(
          ours,
          Array.from(theirs, (v) => v / 255),
        ),
        p.name,
      ).toBeLessThan(2.5 / 255);
    }
  });

  test("flip mirrors the columns", () => {
    const pixels = Uint8Array.from({ length: 4 * 4 * 3 }, (_, i) => i * 5);
    const window = { left: 0, top: 0, width: 4, height: 4 };
    const a = resampleWindow({ pixels, width: 4, height: 4 }, window, 4);
    const b = resampleWindow({ pixels, width: 4, height: 4 }, window, 4, true);
    for (let y = 0; y < 4; y++)
      for (let x = 0; x < 4; x++)
        for (let c = 0; c < 3; c++)
          expect(b[(y * 4 + x) * 3 + c]).toBeCloseTo(a[(y * 4 + 3 - x) * 3 + c] as number, 6);
  });
});

describe("decoded images", () => {
  test("decoded to the side that keeps the smallest crop at full resolution, never enlarged", async () => {
    expect(decodedSide(64, 0.35)).toBe(109);
    const big = photos.find((p) => p.name === "389_535.jpg") as { bytes: Uint8Array };
    const d = await decodeImage(big.bytes, 109);
    expect(Math.min(d.width, d.height)).toBe(109);
    expect([d.originalWidth, d.originalHeight]).toEqual([389, 535]);
    const small = await decodeImage(big.bytes, 1000);
    expect([small.width, small.height]).toEqual([389, 535]);
  });

  test("EXIF orientation is applied before the crop", async () => {
    const rotated = await sharp({ create: { width: 40, height: 20, channels: 3, background: "red" } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const d = await decodeImage(new Uint8Array(rotated), 16);
    expect([d.originalWidth, d.originalHeight]).toEqual([20, 40]);
    expect([d.width, d.height]).toEqual([16, 32]);
  });

  test("a crop draws what imageToFloat draws, and is the same from the cache as from a fresh decode", async () => {
    const cache = new DecodedCache(decodedSide(32, 0.35));
    for (const p of photos) {
      const fresh = await decodeImage(p.bytes, cache.side);
      await cache.get(p.bytes);
      const again = await cache.get(new Uint8Array(p.bytes)); // equal bytes, another array
      const aug = (seed: number) => ({ rng: new Random(seed), flip: true, colorJitter: 0.1 });
      const a = aug(7);
      const b = aug(7);
      expect(augmentDecoded(again, 32, b)).toEqual(augmentDecoded(fresh, 32, a));
      // the same draws as sharp's path: the augmentation stream stands where it stood before
      const viaSharp = aug(7);
      await imageToFloat(p.bytes, 32, viaSharp);
      expect(a.rng.getState()).toBe(viaSharp.rng.getState());
    }
    expect(cache.hits).toBe(photos.length);
    expect(cache.misses).toBe(photos.length);
  });

  test("the cache drops the least recently used images past its budget; 0 keeps none", async () => {
    const side = 40;
    const one = (await decodeImage((photos[0] as { bytes: Uint8Array }).bytes, side)).pixels.byteLength;
    const cache = new DecodedCache(side, one * 2.5);
    for (const p of photos) await cache.get(p.bytes);
    expect(cache.heldBytes).toBeLessThanOrEqual(one * 2.5);
    expect(cache.heldBytes).toBeGreaterThan(0);
    // the last photo is kept, the first was dropped
    const misses = cache.misses;
    await cache.get((photos.at(-1) as { bytes: Uint8Array }).bytes);
    expect(cache.misses).toBe(misses);
    await cache.get((photos[0] as { bytes: Uint8Array }).bytes);
    expect(cache.misses).toBe(misses + 1);

    const none = new DecodedCache(side, 0);
    await none.get((photos[0] as { bytes: Uint8Array }).bytes);
    await none.get((photos[0] as { bytes: Uint8Array }).bytes);
    expect([none.misses, none.heldBytes]).toEqual([2, 0]);
  });

  test("an undecodable image is skipped with sharp's reason and not kept", async () => {
    const cache = new DecodedCache(32);
    const broken = (photos[0] as { bytes: Uint8Array }).bytes.slice(0, 200);
    const skipped: string[] = [];
    const samples = async function* () {
      yield { __key__: "broken", jpg: broken };
      for (const p of photos) yield { __key__: p.name, jpg: p.bytes };
    };
    const batches = [];
    for await (const b of imageBatches(samples(), {
      batchSize: 4,
      imageSize: 16,
      augment: { rng: new Random(1), flip: true },
      onSkip: (key, why) => skipped.push(`${key}: ${why}`),
      decoded: cache,
    }))
      batches.push(b);
    expect(batches.reduce((a, b) => a + b.n, 0)).toBe(photos.length);
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatch(/^broken: .*(premature|corrupt|truncated|Input buffer)/i);
    expect(cache.heldBytes).toBeGreaterThan(0);
    await expect(cache.get(broken)).rejects.toThrow();
    expect(cache.misses).toBe(photos.length + 2);
  });
});
