import type { Random } from "@laion/mixer";
import sharp from "sharp";

/** Random-resized-crop + flip + colour jitter settings; all draws come from the given Random. */
export interface Augment {
  rng: Random;
  /** Crop area as a fraction of the largest square, [min, max]. */
  scale?: [number, number];
  /** Horizontal flip with probability 0.5. */
  flip?: boolean;
  /** Brightness/saturation jitter amplitude (0.1 = ±10 %); 0 = off. */
  colorJitter?: number;
}

/**
 * Decode any sharp-readable image (EXIF-oriented, alpha dropped, sRGB) to a size×size RGB Float32Array in
 * [0,1], HWC. Without `augment`: the centred largest square. With it: a random square crop of random
 * scale, optional flip and colour jitter.
 */
export async function imageToFloat(
  bytes: Uint8Array,
  size: number,
  augment?: Augment,
): Promise<Float32Array> {
  const base = sharp(bytes, { failOn: "error", limitInputPixels: 100_000_000 }).autoOrient();
  const meta = await sharp(bytes).metadata();
  let { width = 0, height = 0 } = meta;
  if ((meta.orientation ?? 1) >= 5) [width, height] = [height, width];
  if (!width || !height) throw new Error("image has no dimensions");
  const side = Math.min(width, height);
  let crop = side;
  let left = Math.floor((width - side) / 2);
  let top = Math.floor((height - side) / 2);
  if (augment) {
    const [lo, hi] = augment.scale ?? [0.35, 1];
    crop = Math.max(8, Math.round(side * Math.sqrt(augment.rng.uniform(lo, hi))));
    crop = Math.min(crop, side);
    left = augment.rng.int(width - crop + 1);
    top = augment.rng.int(height - crop + 1);
  }
  let img = base
    .extract({ left, top, width: crop, height: crop })
    .resize(size, size, { fit: "fill", kernel: "lanczos3" });
  if (augment?.flip && augment.rng.next() < 0.5) img = img.flop();
  const jitter = augment?.colorJitter ?? 0;
  if (augment && jitter > 0) {
    img = img.modulate({
      brightness: 1 + augment.rng.uniform(-jitter, jitter),
      saturation: 1 + augment.rng.uniform(-jitter, jitter),
    });
  }
  const raw = await img.removeAlpha().toColourspace("srgb").raw().toBuffer();
  const out = new Float32Array(size * size * 3);
  for (let i = 0; i < out.length; i++) out[i] = (raw[i] as number) / 255;
  return out;
}

function toBytes(pixels: Float32Array): Uint8Array {
  const out = new Uint8Array(pixels.length);
  for (let i = 0; i < pixels.length; i++)
    out[i] = Math.round(Math.min(1, Math.max(0, pixels[i] as number)) * 255);
  return out;
}

/** One [H,W,3] float image in [0,1] → PNG bytes. */
export async function floatToPng(pixels: Float32Array, width: number, height: number): Promise<Uint8Array> {
  const png = await sharp(toBytes(pixels), { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

/**
 * A reconstruction grid: originals on the top row, reconstructions on the row below (n images of
 * size×size each, [n,size,size,3] in [0,1]), with a 2 px white gutter.
 */
export async function reconstructionGrid(params: {
  originals: Float32Array;
  reconstructions: Float32Array;
  n: number;
  size: number;
}): Promise<Uint8Array> {
  const { originals, reconstructions, n, size } = params;
  const gap = 2;
  const W = n * size + (n + 1) * gap;
  const H = 2 * size + 3 * gap;
  const grid = new Float32Array(W * H * 3).fill(1);
  const rows = [originals, reconstructions];
  for (let r = 0; r < 2; r++) {
    const src = rows[r] as Float32Array;
    for (let i = 0; i < n; i++) {
      const x0 = gap + i * (size + gap);
      const y0 = gap + r * (size + gap);
      for (let y = 0; y < size; y++) {
        const s = (i * size + y) * size * 3;
        grid.set(src.subarray(s, s + size * 3), ((y0 + y) * W + x0) * 3);
      }
    }
  }
  return floatToPng(grid, W, H);
}
