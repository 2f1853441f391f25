import { imageSize } from "image-size";
import sharp from "sharp";
import { isResizeMode, RESIZE_MODES, type ResizeMode } from "./geometry.js";

export type EncodeFormat = "jpg" | "webp" | "png";
export const ENCODE_FORMATS: readonly EncodeFormat[] = ["jpg", "webp", "png"];

export interface ResizeParams {
  /** Target size S in pixels (img2dataset's image_size). Default 256. */
  imageSize?: number;
  /** Default "center_crop". */
  resizeMode?: ResizeMode;
  /** Only ever downscale. Default false. */
  resizeOnlyIfBigger?: boolean;
  /** Images whose shorter side is below this fail with "image too small". Default 0. */
  minImageSize?: number;
  /** Images whose longer/shorter side ratio is above this fail with "aspect ratio too large". Default Infinity. */
  maxAspectRatio?: number;
  /** Default "jpg". */
  encodeFormat?: EncodeFormat;
  /** 0–100 for jpg/webp (default 95); the zlib compression level 0–9 for png (default 9 when not given). */
  encodeQuality?: number;
  /** Decompression-bomb guard: images with more pixels than this are refused before decoding. Default 100 M. */
  limitInputPixels?: number;
}

export type ResizeResult =
  | {
      ok: true;
      bytes: Buffer;
      width: number;
      height: number;
      originalWidth: number;
      originalHeight: number;
    }
  | { ok: false; error: string };

export const DEFAULT_LIMIT_INPUT_PIXELS = 100_000_000;
const WHITE = { r: 255, g: 255, b: 255, alpha: 1 };

/**
 * Largest --image-size: 8192² RGB is 192 MiB per image already, and a larger target turns each small
 * image into seconds of upscaling and encoding (100000 with png burned a core on one image).
 */
export const MAX_IMAGE_SIZE = 8192;

/** Checks resize params once, up front, with errors that name the bad value and the allowed ones. */
export function validateResizeParams(params: ResizeParams): void {
  const { imageSize = 256, resizeMode = "center_crop", encodeFormat = "jpg", encodeQuality } = params;
  if (!Number.isInteger(imageSize) || imageSize < 1 || imageSize > MAX_IMAGE_SIZE)
    throw new Error(`--image-size must be an integer from 1 to ${MAX_IMAGE_SIZE}, got ${imageSize}`);
  if (!isResizeMode(resizeMode))
    throw new Error(
      `unknown resize mode "${resizeMode}"; use one of: ${Object.keys(RESIZE_MODES).join(", ")}`,
    );
  if (!ENCODE_FORMATS.includes(encodeFormat))
    throw new Error(`unknown encode format "${encodeFormat}"; use one of: ${ENCODE_FORMATS.join(", ")}`);
  if (encodeQuality !== undefined) {
    const max = encodeFormat === "png" ? 9 : 100;
    if (!Number.isInteger(encodeQuality) || encodeQuality < 0 || encodeQuality > max)
      throw new Error(
        encodeFormat === "png"
          ? `for png, encode quality is the compression level and must be between 0 and 9, got ${encodeQuality}`
          : `encode quality must be an integer between 0 and 100, got ${encodeQuality}`,
      );
  }
}

/**
 * Decode, resize and re-encode one image. Pure: bytes in, bytes out, and every failure is returned as a value
 * (`{ ok: false, error }`) so one bad image never stops a run. EXIF orientation is applied, alpha is
 * flattened on white, CMYK and grey images become sRGB.
 */
export async function resizeImage(bytes: Uint8Array, params: ResizeParams = {}): Promise<ResizeResult> {
  const {
    imageSize = 256,
    resizeMode = "center_crop",
    resizeOnlyIfBigger = false,
    minImageSize = 0,
    maxAspectRatio = Number.POSITIVE_INFINITY,
    encodeFormat = "jpg",
    limitInputPixels = DEFAULT_LIMIT_INPUT_PIXELS,
  } = params;
  try {
    if (bytes.byteLength === 0) return { ok: false, error: "empty image" };
    // The header alone gives the size: refuse bombs before a single pixel is decoded.
    const meta = await headerSize(bytes);
    if (!meta.width || !meta.height) return { ok: false, error: "image has no dimensions" };
    if (meta.width * meta.height > limitInputPixels)
      return { ok: false, error: `image area too large (over ${limitInputPixels} pixels)` };
    // EXIF orientations 5–8 swap width and height once applied
    const rotated = (meta.orientation ?? 1) >= 5;
    const originalWidth = rotated ? meta.height : meta.width;
    const originalHeight = rotated ? meta.width : meta.height;
    if (Math.min(originalWidth, originalHeight) < minImageSize)
      return { ok: false, error: "image too small" };
    if (Math.max(originalWidth, originalHeight) / Math.min(originalWidth, originalHeight) > maxAspectRatio)
      return { ok: false, error: "aspect ratio too large" };

    const plan = RESIZE_MODES[resizeMode](originalWidth, originalHeight, { imageSize, resizeOnlyIfBigger });
    // failOn "error": libvips stops on real decode errors but, like OpenCV, tolerates benign warnings
    let img = sharp(bytes, { limitInputPixels, failOn: "error" }).autoOrient();
    if (plan.resize) img = img.resize(plan.resize.width, plan.resize.height, { fit: "fill" });
    if (plan.crop) img = img.extract(plan.crop);
    if (plan.pad) img = img.extend({ ...plan.pad, background: WHITE });
    // JPEGs carry no alpha: flattening one is a no-op that still costs a colour parse per image
    if (meta.hasAlpha !== false) img = img.flatten({ background: WHITE });
    img = img.toColourspace("srgb");
    if (encodeFormat === "jpg") img = img.jpeg({ quality: params.encodeQuality ?? 95 });
    else if (encodeFormat === "webp") img = img.webp({ quality: params.encodeQuality ?? 95 });
    else img = img.png({ compressionLevel: params.encodeQuality ?? 9 });
    const { data, info } = await img.toBuffer({ resolveWithObject: true });
    return { ok: true, bytes: data, width: info.width, height: info.height, originalWidth, originalHeight };
  } catch (err) {
    return { ok: false, error: decodeErrorMessage(err) };
  }
}

interface HeaderSize {
  width?: number | undefined;
  height?: number | undefined;
  orientation?: number | undefined;
  /** False when the image has no alpha channel to flatten; undefined when unknown. */
  hasAlpha?: boolean | undefined;
}

/**
 * The stored size and EXIF orientation, read from the header. JPEGs (most of LAION) go through
 * image-size, a few markers parsed in JS: asking sharp would open every image a second time, and that
 * call was 6.5 % of the downloader's main thread. Anything else, and any JPEG image-size cannot read,
 * goes to sharp's metadata(), so other formats and broken files are judged by libvips as before.
 */
export async function headerSize(bytes: Uint8Array): Promise<HeaderSize> {
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    try {
      const size = imageSize(bytes);
      // libvips reads an orientation outside 1–8 as 1 (none)
      const orientation = size.orientation && size.orientation <= 8 ? size.orientation : 1;
      if (size.type === "jpg" && size.width && size.height)
        return { width: size.width, height: size.height, orientation, hasAlpha: false };
    } catch {
      // a JPEG image-size cannot read: libvips decides below, with its own message
    }
  }
  return sharp(bytes, { limitInputPixels: false }).metadata();
}

/** sharp's messages can carry per-image detail (offsets, sizes); keep the first line so stats aggregate. */
function decodeErrorMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const first = message.split("\n")[0]!.trim();
  // libvips words corrupt data differently from run to run ("Unknown error", "Corrupt JPEG data: …"):
  // one reason, so status counts stay meaningful
  if (first === "" || /unknown error|corrupt|premature end|truncated|read error/i.test(first))
    return "image decoding error (corrupt or truncated data)";
  return first;
}
