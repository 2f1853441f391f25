import sharp from "sharp";

/** Opt-in decoders. `true` turns all of them on. */
export interface DecodeOptions {
  /** Image members (jpg, jpeg, png, webp, gif, tif, tiff, avif) → `{ width, height, data }`, 8-bit RGB, row-major. */
  image?: "rgb" | false;
  /** `txt`, `text`, `transcript` → string (UTF-8). */
  txt?: boolean;
  /** `json`, `jsn` → parsed value. */
  json?: boolean;
  /** `cls`, `cls2`, `class`, `count`, `index`, `inx`, `id` → number. */
  cls?: boolean;
}

/** A decoded image: 3 bytes per pixel, row-major. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

const IMAGE = new Set(["jpg", "jpeg", "png", "webp", "gif", "tif", "tiff", "avif"]);
const TEXT = new Set(["txt", "text", "transcript"]);
const JSON_EXT = new Set(["json", "jsn"]);
const CLS = new Set(["cls", "cls2", "class", "count", "index", "inx", "id"]);

/** Normalises `decode: true` to every decoder on. */
export function decodeOptions(decode: DecodeOptions | boolean | undefined): DecodeOptions | undefined {
  if (!decode) return undefined;
  if (decode === true) return { image: "rgb", txt: true, json: true, cls: true };
  return decode;
}

/** The decoder key a member extension falls under ("image", "txt", …), or undefined. */
function kind(ext: string): keyof DecodeOptions | undefined {
  const last = ext.slice(ext.lastIndexOf(".") + 1);
  if (IMAGE.has(last)) return "image";
  if (TEXT.has(last)) return "txt";
  if (JSON_EXT.has(last)) return "json";
  if (CLS.has(last)) return "cls";
  return undefined;
}

/**
 * Decodes the members of one sample in place per `options`; on undecodable data throws an
 * Error naming the extension (also in its `ext` property; the caller adds the shard URL and key).
 */
export async function decodeSample<T extends Record<string, unknown>>(
  sample: T,
  options: DecodeOptions,
): Promise<T> {
  const textDecoder = new TextDecoder("utf-8", { fatal: true });
  for (const [ext, value] of Object.entries(sample)) {
    if (ext.startsWith("__") || !(value instanceof Uint8Array)) continue;
    const k = kind(ext);
    if (k === undefined || !options[k]) continue;
    try {
      if (k === "image") (sample as Record<string, unknown>)[ext] = await decodeRgb(value);
      else if (k === "txt") (sample as Record<string, unknown>)[ext] = textDecoder.decode(value);
      else if (k === "json") (sample as Record<string, unknown>)[ext] = JSON.parse(textDecoder.decode(value));
      else {
        const text = textDecoder.decode(value).trim();
        const n = Number(text);
        if (text === "" || !Number.isFinite(n))
          throw new Error(`not a number: ${JSON.stringify(text.slice(0, 40))}`);
        (sample as Record<string, unknown>)[ext] = n;
      }
    } catch (error) {
      throw Object.assign(new Error(`cannot decode .${ext}: ${(error as Error).message}`, { cause: error }), {
        ext,
      });
    }
  }
  return sample;
}

/** Decodes any image sharp reads into 8-bit sRGB without alpha. */
export async function decodeRgb(bytes: Uint8Array): Promise<RgbImage> {
  const { data, info } = await sharp(bytes)
    // Honour EXIF orientation so pixels match what an image viewer shows.
    .rotate()
    .removeAlpha()
    .toColourspace("srgb")
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`expected 3 channels after conversion, got ${info.channels}`);
  return {
    width: info.width,
    height: info.height,
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
  };
}
