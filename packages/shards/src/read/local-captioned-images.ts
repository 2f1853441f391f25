import { readFile } from "node:fs/promises";
import path from "node:path";

/** A user's image with its caption, shaped like a webdataset sample (`jpg`/`png`/… bytes + `txt`). */
export interface CaptionedImage {
  /** The image path relative to imageRoot, without its extension. */
  __key__: string;
  /** Absolute path of the image file. */
  __url__: string;
  txt: string;
  [ext: string]: Uint8Array | string;
}

export interface LocalCaptionedImagesStats {
  /** Images read so far in the current iteration. */
  images: number;
  /** Captions whose image file is missing (skipped). */
  missing: number;
  /** Absolute paths of the missing images (first 1000). */
  missingPaths: string[];
}

export interface LocalCaptionedImagesParams {
  /** captions.json: `[{ "image": "rel/path.jpg", "caption": "…" }, …]` or `{ "rel/path.jpg": "caption", … }`. */
  captions: string;
  /** Folder the image paths are relative to (default: the folder of the captions file). */
  imageRoot?: string;
  /** Throw on the first missing image instead of skipping it (default false). */
  strict?: boolean;
  /** Called with the absolute path of each missing image that is skipped. */
  onMissing?: (imagePath: string) => void;
}

export interface CaptionedImages extends AsyncIterable<CaptionedImage> {
  /** Counts of the current (or last) iteration. */
  readonly stats: LocalCaptionedImagesStats;
}

const EXPECTED_SHAPES =
  'expected either a list [{ "image": "rel/path.jpg", "caption": "…" }, …] or a map { "rel/path.jpg": "caption", … }';

/**
 * Reads the user's own captioned images, in the order of the captions file, one image at a
 * time. Missing image files are skipped and counted in `stats` (or throw with `strict`).
 */
export function LocalCaptionedImages(params: LocalCaptionedImagesParams): CaptionedImages {
  const imageRoot = params.imageRoot ?? path.dirname(params.captions);
  const stats: LocalCaptionedImagesStats = { images: 0, missing: 0, missingPaths: [] };
  return {
    stats,
    [Symbol.asyncIterator]: async function* () {
      Object.assign(stats, { images: 0, missing: 0, missingPaths: [] });
      for (const { image, caption } of await readCaptions(params.captions)) {
        const file = path.resolve(imageRoot, image);
        let bytes: Buffer;
        try {
          bytes = await readFile(file);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
          if (params.strict)
            throw new Error(`missing image ${file} (listed as "${image}" in ${params.captions})`);
          stats.missing++;
          if (stats.missingPaths.length < 1000) stats.missingPaths.push(file);
          params.onMissing?.(file);
          continue;
        }
        const ext = path.extname(image).slice(1).toLowerCase() || "bin";
        const key = image.replace(/\\/g, "/").replace(/\.[^./]*$/, "");
        stats.images++;
        yield {
          __key__: key,
          __url__: file,
          [ext]: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length),
          txt: caption,
        } as CaptionedImage;
      }
    },
  };
}

/** Parses captions.json in either accepted shape; errors name the file, the entry and the expected shapes. */
export async function readCaptions(file: string): Promise<{ image: string; caption: string }[]> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new Error(`${file}: cannot read captions: ${(error as Error).message}`);
  }
  if (Array.isArray(value)) {
    return value.map((entry, i) => {
      const e = entry as Record<string, unknown> | null;
      if (
        typeof e !== "object" ||
        e === null ||
        typeof e.image !== "string" ||
        typeof e.caption !== "string"
      ) {
        throw new Error(`${file}: entry ${i} is ${JSON.stringify(entry)?.slice(0, 100)}; ${EXPECTED_SHAPES}`);
      }
      return { image: e.image, caption: e.caption };
    });
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value);
    const bad = entries.find(([, caption]) => typeof caption !== "string");
    if (!bad) return entries.map(([image, caption]) => ({ image, caption: caption as string }));
    throw new Error(
      `${file}: "${bad[0]}" maps to ${JSON.stringify(bad[1])?.slice(0, 100)}, not a caption string; ${EXPECTED_SHAPES}`,
    );
  }
  throw new Error(`${file}: captions file holds ${JSON.stringify(value)?.slice(0, 100)}; ${EXPECTED_SHAPES}`);
}
