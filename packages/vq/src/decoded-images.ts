// Training crops from images decoded once. sharp decodes each image (EXIF-oriented, sRGB, alpha
// dropped) to a reduced size that still holds the smallest crop at full resolution — JPEGs shrink
// while they load — and the random crop, flip and colour jitter are then cut from those pixels in JS
// (resample.ts). Decoding was most of the loader's CPU (~5 ms an image, on the cores the training
// shares when it runs on two threads, against ~0.3 ms for a crop from pixels); the decoded pixels are
// kept, within a byte budget, for the next epochs. A crop is the same whether its image came from the
// cache or from sharp: both go through the same decoded pixels.
import { createHash } from "node:crypto";
import sharp from "sharp";
import type { Augment } from "./images.js";
import { resampleWindow } from "./resample.js";

/** An image decoded for training: RGB bytes (HWC) at a reduced size, and the oriented original's size. */
export interface DecodedImage {
  pixels: Uint8Array;
  width: number;
  height: number;
  originalWidth: number;
  originalHeight: number;
}

/** The crop scale range (fraction of the largest square's area) when none is given. */
export const DEFAULT_CROP_SCALE: [number, number] = [0.35, 1];

/**
 * The shorter side images are decoded to for crops of `size` px at least `minScale` of the largest
 * square's area: the smallest crop then still has `size` source pixels a side.
 */
export function decodedSide(size: number, minScale: number): number {
  return Math.ceil(size / Math.sqrt(Math.max(minScale, 1e-4)));
}

/** Decode any sharp-readable image to RGB bytes whose shorter side is `side` (never enlarged). */
export async function decodeImage(bytes: Uint8Array, side: number): Promise<DecodedImage> {
  const meta = await sharp(bytes).metadata();
  let { width = 0, height = 0 } = meta;
  if ((meta.orientation ?? 1) >= 5) [width, height] = [height, width];
  if (!width || !height) throw new Error("image has no dimensions");
  const { data, info } = await sharp(bytes, { failOn: "error", limitInputPixels: 100_000_000 })
    .autoOrient()
    .resize(side, side, { fit: "outside", withoutEnlargement: true, kernel: "lanczos3" })
    .removeAlpha()
    .toColourspace("srgb")
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
    originalWidth: width,
    originalHeight: height,
  };
}

/**
 * A random square crop (scale and position drawn as imageToFloat draws them, in the original's pixels),
 * resized to size×size, flipped with probability ½ when `flip`, and colour-jittered: floats in [0,1], HWC.
 * Colour jitter scales brightness and blends towards the pixel's grey level (saturation), as
 * torchvision's ColorJitter does.
 */
export function augmentDecoded(image: DecodedImage, size: number, augment: Augment): Float32Array {
  const { originalWidth: W, originalHeight: H } = image;
  const side = Math.min(W, H);
  const [lo, hi] = augment.scale ?? DEFAULT_CROP_SCALE;
  let crop = Math.max(8, Math.round(side * Math.sqrt(augment.rng.uniform(lo, hi))));
  crop = Math.min(crop, side);
  const left = augment.rng.int(W - crop + 1);
  const top = augment.rng.int(H - crop + 1);
  const flip = augment.flip === true && augment.rng.next() < 0.5;
  const [rx, ry] = [image.width / W, image.height / H];
  const out = resampleWindow(
    image,
    { left: left * rx, top: top * ry, width: crop * rx, height: crop * ry },
    size,
    flip,
  );
  const jitter = augment.colorJitter ?? 0;
  if (jitter > 0) {
    const brightness = 1 + augment.rng.uniform(-jitter, jitter);
    const saturation = 1 + augment.rng.uniform(-jitter, jitter);
    for (let p = 0; p < out.length; p += 3) {
      const [r, g, b] = [out[p] as number, out[p + 1] as number, out[p + 2] as number];
      const grey = 0.299 * r + 0.587 * g + 0.114 * b;
      out[p] = clamp01(brightness * (grey + saturation * (r - grey)));
      out[p + 1] = clamp01(brightness * (grey + saturation * (g - grey)));
      out[p + 2] = clamp01(brightness * (grey + saturation * (b - grey)));
    }
  }
  return out;
}

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));

/** Default budget of DecodedCache, in MiB (about 7,000 images at 64 px, 300 at 256 px). */
export const DEFAULT_DECODE_CACHE_MB = 256;

/**
 * Decoded images by content (SHA-1 of the bytes: a local folder is read anew each epoch), least
 * recently used dropped first once their pixels pass `maxBytes`. 0 keeps nothing.
 */
export class DecodedCache {
  private readonly images = new Map<string, Promise<DecodedImage>>();
  private readonly sizes = new Map<string, number>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(
    /** The shorter side images are decoded to (decodedSide). */
    readonly side: number,
    readonly maxBytes = DEFAULT_DECODE_CACHE_MB * 2 ** 20,
  ) {}

  /** The decoded image (rejects as sharp does for an undecodable one; failures are not kept). */
  get(bytes: Uint8Array): Promise<DecodedImage> {
    const key = createHash("sha1").update(bytes).digest("base64");
    const kept = this.images.get(key);
    if (kept) {
      this.hits++;
      // most recently used last
      this.images.delete(key);
      this.images.set(key, kept);
      return kept;
    }
    this.misses++;
    const decoding = decodeImage(bytes, this.side);
    if (this.maxBytes <= 0) return decoding;
    this.images.set(key, decoding);
    decoding.then(
      (d) => this.account(key, d.pixels.byteLength),
      () => this.images.delete(key),
    );
    return decoding;
  }

  private account(key: string, size: number): void {
    if (!this.images.has(key)) return;
    this.sizes.set(key, size);
    this.bytes += size;
    for (const [k] of this.images) {
      if (this.bytes <= this.maxBytes) break;
      const s = this.sizes.get(k);
      if (s === undefined) continue; // still decoding
      this.images.delete(k);
      this.sizes.delete(k);
      this.bytes -= s;
    }
  }

  /** Bytes of pixels held. */
  get heldBytes(): number {
    return this.bytes;
  }
}
