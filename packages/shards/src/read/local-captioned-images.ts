import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Resumable } from "@laion/mixer";
import { emptySample, type Sample } from "./sample-types.js";

/**
 * A user's image with its caption, shaped like a webdataset sample read with `decode: { txt: true }`:
 * `txt` is the caption (string), the image bytes are under the file's lower-cased extension (`jpg`,
 * `png`, … as `Uint8Array`). `__key__` is the image path relative to imageRoot without its extension,
 * `__url__` the image file's absolute path.
 */
export type CaptionedImage = Sample<{ txt: true }, "txt">;

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

/** Where a LocalCaptionedImages reader is: the next captions entry, and the counts so far. */
export interface LocalCaptionedImagesState {
  version: 1;
  /** Entries in the captions file (a resume against an edited file is an error); 0 before the first iteration. */
  entries: number;
  /** Index of the next captions entry to read. */
  next: number;
  images: number;
  missing: number;
}

export interface CaptionedImages extends AsyncIterable<CaptionedImage>, Resumable<LocalCaptionedImagesState> {
  /** Counts of the current (or last) iteration (a restored one continues the saved counts). */
  readonly stats: LocalCaptionedImagesStats;
  /** Where the latest iteration is. */
  state(): LocalCaptionedImagesState;
  /** Makes the next iteration start at the saved entry: the images before it are not read again. */
  restore(state: LocalCaptionedImagesState): void;
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
  let position = { entries: 0, next: 0 };
  let resumeAt: LocalCaptionedImagesState | undefined;
  return {
    stats,
    state: () => ({ version: 1, ...position, images: stats.images, missing: stats.missing }),
    restore(state) {
      resumeAt = checkState(state, params.captions);
      position = { entries: resumeAt.entries, next: resumeAt.next };
    },
    [Symbol.asyncIterator]: async function* () {
      const start = resumeAt;
      resumeAt = undefined;
      Object.assign(stats, { images: start?.images ?? 0, missing: start?.missing ?? 0, missingPaths: [] });
      const entries = await readCaptions(params.captions);
      if (start && start.entries !== 0 && start.entries !== entries.length) {
        throw new Error(
          `${params.captions}: cannot resume: the saved state is for ${start.entries} entries, the file now has ${entries.length}`,
        );
      }
      position = { entries: entries.length, next: start?.next ?? 0 };
      while (position.next < entries.length) {
        const { image, caption } = entries[position.next] as { image: string; caption: string };
        // Advanced before the yield: a state() taken while the consumer holds this image points past it.
        position.next++;
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
        const sample = emptySample(key, file);
        sample[ext] = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
        yield Object.assign(sample, { txt: caption }) as CaptionedImage;
      }
    },
  };
}

function checkState(state: LocalCaptionedImagesState, captions: string): LocalCaptionedImagesState {
  if (typeof state !== "object" || state === null || state.version !== 1) {
    throw new Error(
      `${captions}: cannot restore ${JSON.stringify(state)}: expected a state() with version 1`,
    );
  }
  for (const field of ["entries", "next", "images", "missing"] as const) {
    if (!Number.isSafeInteger(state[field]) || state[field] < 0) {
      throw new Error(
        `${captions}: cannot restore: state.${field} is ${JSON.stringify(state[field])}, not a count`,
      );
    }
  }
  if (state.next > state.entries) {
    throw new Error(
      `${captions}: cannot restore: state.next ${state.next} is past the ${state.entries} entries`,
    );
  }
  return { ...state };
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
