// Lanczos-3 resampling of a window of an RGB image, in JS: the training crops' second step, after
// sharp decoded the image once (decoded-images.ts). Separable, antialiased when shrinking (the kernel is
// widened by the scale, as libvips' reduce and Pillow do), any fractional window.

/** lanczos3(x) = sinc(x)·sinc(x/3) for |x| < 3. */
function lanczos3(x: number): number {
  if (x === 0) return 1;
  if (x <= -3 || x >= 3) return 0;
  const px = Math.PI * x;
  return (3 * Math.sin(px) * Math.sin(px / 3)) / (px * px);
}

/** Per output sample: the first source index, and the normalised weights of the `taps` sources from it. */
interface Taps {
  first: Int32Array;
  taps: number;
  weights: Float32Array;
}

/** Taps to resample [start, start + length) of a source axis of `size` samples into `out` samples. */
function taps(start: number, length: number, out: number, size: number): Taps {
  const scale = length / out;
  const widen = Math.max(1, scale);
  const support = 3 * widen;
  const n = Math.ceil(2 * support) + 1;
  const first = new Int32Array(out);
  const weights = new Float32Array(out * n);
  for (let i = 0; i < out; i++) {
    const centre = start + (i + 0.5) * scale; // in source pixel units (pixel j covers [j, j + 1))
    const lo = Math.max(0, Math.floor(centre - support));
    first[i] = lo;
    let sum = 0;
    for (let k = 0; k < n; k++) {
      const j = lo + k;
      const w = j < size ? lanczos3((j + 0.5 - centre) / widen) : 0;
      weights[i * n + k] = w;
      sum += w;
    }
    for (let k = 0; k < n; k++) (weights[i * n + k] as number) /= sum;
  }
  return { first, taps: n, weights };
}

/** A window of an RGB image (HWC bytes), in source pixels; may be fractional. */
export interface Window {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Resample `window` of an RGB image (HWC, `width`×`height`, bytes) to size×size floats in [0,1], HWC,
 * mirrored left-right when `flip`.
 */
export function resampleWindow(
  image: { pixels: Uint8Array; width: number; height: number },
  window: Window,
  size: number,
  flip = false,
): Float32Array {
  const { pixels, width, height } = image;
  const h = taps(window.left, window.width, size, width);
  const v = taps(window.top, window.height, size, height);
  // the source rows the vertical pass reads
  const row0 = v.first[0] as number;
  const row1 = Math.min(height, (v.first[size - 1] as number) + v.taps);
  const tmp = new Float32Array((row1 - row0) * size * 3);
  for (let y = row0; y < row1; y++) {
    const src = y * width * 3;
    const dst = (y - row0) * size * 3;
    for (let x = 0; x < size; x++) {
      const first = h.first[x] as number;
      const base = x * h.taps;
      let r = 0;
      let g = 0;
      let b = 0;
      const last = Math.min(h.taps, width - first);
      for (let k = 0; k < last; k++) {
        const w = h.weights[base + k] as number;
        const p = src + (first + k) * 3;
        r += w * (pixels[p] as number);
        g += w * (pixels[p + 1] as number);
        b += w * (pixels[p + 2] as number);
      }
      const o = dst + (flip ? size - 1 - x : x) * 3;
      tmp[o] = r;
      tmp[o + 1] = g;
      tmp[o + 2] = b;
    }
  }
  const out = new Float32Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    const first = v.first[y] as number;
    const base = y * v.taps;
    const last = Math.min(v.taps, height - first);
    for (let x = 0; x < size * 3; x++) {
      let s = 0;
      for (let k = 0; k < last; k++)
        s += (v.weights[base + k] as number) * (tmp[(first + k - row0) * size * 3 + x] as number);
      out[y * size * 3 + x] = Math.min(255, Math.max(0, s)) / 255;
    }
  }
  return out;
}
