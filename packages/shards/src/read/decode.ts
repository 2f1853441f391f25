import sharp from "sharp";
import {
  CLS_EXTENSIONS,
  type DecodeOptions,
  IMAGE_EXTENSIONS,
  JSON_EXTENSIONS,
  type JsonValue,
  type RawSample,
  type RgbImage,
  type Sample,
  TEXT_EXTENSIONS,
} from "./sample-types.js";

const IMAGE = new Set<string>(IMAGE_EXTENSIONS);
const TEXT = new Set<string>(TEXT_EXTENSIONS);
const JSON_EXT = new Set<string>(JSON_EXTENSIONS);
const CLS = new Set<string>(CLS_EXTENSIONS);

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
export async function decodeSample(
  sample: RawSample,
  options: DecodeOptions,
): Promise<Sample<DecodeOptions>> {
  const members = sample as Record<string, unknown>;
  for (const [ext, value] of Object.entries(sample)) {
    if (ext.startsWith("__") || !(value instanceof Uint8Array)) continue;
    const k = kind(ext);
    if (k === undefined || !options[k]) continue;
    try {
      members[ext] = await decodeMember(k, value, options);
    } catch (error) {
      throw Object.assign(new Error(`cannot decode .${ext}: ${(error as Error).message}`, { cause: error }), {
        ext,
      });
    }
  }
  return sample as Sample<DecodeOptions>;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

async function decodeMember(
  k: keyof DecodeOptions,
  bytes: Uint8Array,
  options: DecodeOptions,
): Promise<unknown> {
  if (k === "image") return decodeRgb(bytes);
  const text = utf8.decode(bytes);
  if (k === "txt") return text;
  if (k === "json") {
    const parsed = JSON.parse(text) as JsonValue;
    return typeof options.json === "function" ? options.json(parsed) : parsed;
  }
  const n = Number(text.trim());
  if (text.trim() === "" || !Number.isFinite(n))
    throw new Error(`not a number: ${JSON.stringify(text.slice(0, 40))}`);
  return n;
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
