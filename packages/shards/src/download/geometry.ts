/**
 * Resize geometry, exactly as img2dataset's resizer (albumentations' smallest_max_size / longest_max_size /
 * center_crop / pad): a registry `{ mode: plan }` of pure functions from the input size to the operations
 * to apply. Kept free of sharp so every mode can be checked against the rules on its own.
 */

export type ResizeMode = "no" | "border" | "keep_ratio" | "keep_ratio_largest" | "center_crop";

export interface GeometryParams {
  /** Target size S in pixels. */
  imageSize: number;
  /** Only downscale: images whose relevant side is ≤ S are kept as they are (img2dataset's resize_only_if_bigger). */
  resizeOnlyIfBigger: boolean;
}

export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** What to do to an image of a given size: resize (exact dims), then crop or pad, giving `width × height`. */
export interface ResizePlan {
  resize?: { width: number; height: number; downscale: boolean };
  crop?: Box;
  pad?: { top: number; bottom: number; left: number; right: number };
  width: number;
  height: number;
}

export type GeometryFn = (width: number, height: number, params: GeometryParams) => ResizePlan;

/** Python 3's round(): halves go to the even neighbour (2.5 → 2, 3.5 → 4), as albumentations rounds sizes. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Scale so that `side` becomes `size`; the other side is round(x · size / side), never below 1 pixel. */
function scaleTo(
  width: number,
  height: number,
  side: number,
  size: number,
): { width: number; height: number } {
  const scale = size / side;
  if (scale === 1) return { width, height };
  return {
    width: Math.max(1, roundHalfEven(width * scale)),
    height: Math.max(1, roundHalfEven(height * scale)),
  };
}

function keepRatio(width: number, height: number, p: GeometryParams, crop: boolean): ResizePlan {
  const downscale = Math.min(width, height) > p.imageSize;
  if (p.resizeOnlyIfBigger && !downscale) return { width, height };
  const r = scaleTo(width, height, Math.min(width, height), p.imageSize);
  const plan: ResizePlan = { resize: { ...r, downscale }, width: r.width, height: r.height };
  if (crop) {
    const size = p.imageSize;
    // albumentations center_crop: y1 = (height - crop_height) // 2
    plan.crop = { left: (r.width - size) >> 1, top: (r.height - size) >> 1, width: size, height: size };
    plan.width = size;
    plan.height = size;
  }
  return plan;
}

function longest(width: number, height: number, p: GeometryParams, pad: boolean): ResizePlan {
  const downscale = Math.max(width, height) > p.imageSize;
  if (p.resizeOnlyIfBigger && !downscale) return { width, height };
  const r = scaleTo(width, height, Math.max(width, height), p.imageSize);
  const plan: ResizePlan = { resize: { ...r, downscale }, width: r.width, height: r.height };
  if (pad) {
    const size = p.imageSize;
    // albumentations pad: top = int((size - rows) / 2), bottom = the rest (same for columns), white
    const top = Math.floor((size - r.height) / 2);
    const left = Math.floor((size - r.width) / 2);
    plan.pad = { top, bottom: size - r.height - top, left, right: size - r.width - left };
    plan.width = size;
    plan.height = size;
  }
  return plan;
}

/** The five img2dataset resize modes. */
export const RESIZE_MODES: Record<ResizeMode, GeometryFn> = {
  /** Keep the image as it is (re-encoded). */
  no: (width, height) => ({ width, height }),
  /** Longer side to S, then white padding to exactly S×S. */
  border: (w, h, p) => longest(w, h, p, true),
  /** Shorter side to S; the other side round(x·S/min). */
  keep_ratio: (w, h, p) => keepRatio(w, h, p, false),
  /** Longer side to S; the other side round(x·S/max). */
  keep_ratio_largest: (w, h, p) => longest(w, h, p, false),
  /** Shorter side to S, then the centre S×S square. */
  center_crop: (w, h, p) => keepRatio(w, h, p, true),
};

export function isResizeMode(value: string): value is ResizeMode {
  return Object.hasOwn(RESIZE_MODES, value);
}
